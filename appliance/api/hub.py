"""Delivers events to gRPC GetEvents subscribers through bounded queues.

The agent's event loop never blocks on a slow client: when a subscriber's
queue is full the event is dropped for that subscriber and counted.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field

from google.protobuf import json_format

from appliance.api.tetragon import events_pb2
from appliance.export.filters import EventFilter


@dataclass(eq=False)
class Subscriber:
    filter: EventFilter
    queue: queue.Queue
    dropped: int = 0
    closed: bool = False


@dataclass
class _Converted:
    event: dict
    _msg: events_pb2.GetEventsResponse | None = None

    def message(self) -> events_pb2.GetEventsResponse:
        if self._msg is None:
            self._msg = json_format.ParseDict(
                self.event, events_pb2.GetEventsResponse(), ignore_unknown_fields=True
            )
        return self._msg


@dataclass
class EventHub:
    queue_size: int = 10000
    subscribers: list[Subscriber] = field(default_factory=list)
    dropped: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def subscribe(self, flt: EventFilter) -> Subscriber:
        sub = Subscriber(flt, queue.Queue(maxsize=self.queue_size))
        with self._lock:
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
            except queue.Full:
                sub.dropped += 1
                self.dropped += 1

    def flush(self) -> None:
        pass

    def close(self) -> None:
        for sub in self.subscribers:
            sub.closed = True
            try:
                sub.queue.put_nowait(None)
            except queue.Full:
                pass
