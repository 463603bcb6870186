"""Delivers events to gRPC GetEvents subscribers through bounded queues.

The agent's event loop never blocks on a slow client: when a subscriber's
queue is full the event is dropped for that subscriber and counted. A client whose queue
keeps overflowing for ``slow_client_s`` seconds (it drops events and never gets back
under half full) is disconnected (its stream cancelled) and
counted, so that it stops holding a server thread and ``queue_size`` queued events; more
than ``max_subscribers`` streams at once are refused and counted.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from google.protobuf import json_format

from appliance.api.tetragon import events_pb2
from appliance.export.filters import EventFilter

#: GetEvents streams served at once; the server keeps threads for unary calls beyond these
MAX_SUBSCRIBERS = 128
#: a subscriber whose queue has been full this long is disconnected
SLOW_CLIENT_S = 10.0


class TooManySubscribers(Exception):
    """The hub serves ``max_subscribers`` streams already."""


@dataclass(eq=False)
class Subscriber:
    filter: EventFilter
    queue: queue.Queue
    dropped: int = 0
    closed: bool = False
    #: monotonic time of the first drop since the queue was last under half full
    full_since: float | None = None
    #: ends the client's stream (set by the server: the RPC's cancel)
    cancel: Callable[[], None] | None = None


@dataclass
class _Converted:
    event: dict
    _msg: events_pb2.GetEventsResponse | None = None
    _bytes: bytes | None = None

    def message(self) -> events_pb2.GetEventsResponse:
        if self._msg is None:
            self._msg = json_format.ParseDict(
                self.event, events_pb2.GetEventsResponse(), ignore_unknown_fields=True
            )
        return self._msg

    def payload(self) -> bytes:
        """The serialized message, made once for all the streams that send it."""
        if self._bytes is None:
            self._bytes = self.message().SerializeToString()
        return self._bytes


@dataclass
class EventHub:
    queue_size: int = 10000
    subscribers: list[Subscriber] = field(default_factory=list)
    dropped: int = 0  # events dropped for slow subscribers (queue full)
    max_subscribers: int = MAX_SUBSCRIBERS
    slow_client_s: float = SLOW_CLIENT_S
    rejected: int = 0  # streams refused: max_subscribers reached
    slow_disconnected: int = 0  # streams ended: queue full for slow_client_s
    clock: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def subscribe(self, flt: EventFilter) -> Subscriber:
        """A new subscriber; raises TooManySubscribers when max_subscribers are served."""
        sub = Subscriber(flt, queue.Queue(maxsize=self.queue_size))
        with self._lock:
            if len(self.subscribers) >= self.max_subscribers:
                self.rejected += 1
                raise TooManySubscribers(
                    f"{len(self.subscribers)} GetEvents streams are served already (the "
                    f"most at once); try again later"
                )
            self.subscribers = [*self.subscribers, sub]
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        sub.closed = True
        with self._lock:
            self.subscribers = [s for s in self.subscribers if s is not sub]

    # Sink interface -----------------------------------------------------------
    def emit(self, event: dict) -> None:
        subs = self.subscribers
        if not subs:
            return
        conv = _Converted(event)
        for sub in subs:
            if sub.filter and not sub.filter(event):
                continue
            try:
                sub.queue.put_nowait(conv)
                if sub.full_since is not None and sub.queue.qsize() <= self.queue_size // 2:
                    sub.full_since = None  # caught up: a put between drops is not enough
            except queue.Full:
                sub.dropped += 1
                self.dropped += 1
                self._slow(sub)

    def _slow(self, sub: Subscriber) -> None:
        """Disconnect a subscriber whose queue has been full for slow_client_s."""
        now = self.clock()
        if sub.full_since is None:
            sub.full_since = now
            return
        if sub.closed or now - sub.full_since < self.slow_client_s:
            return
        self.slow_disconnected += 1
        self.unsubscribe(sub)
        if sub.cancel is not None:
            try:
                sub.cancel()
            except Exception:  # the RPC ended meanwhile
                pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        for sub in self.subscribers:
            sub.closed = True
            try:
                sub.queue.put_nowait(None)
            except queue.Full:
                pass
