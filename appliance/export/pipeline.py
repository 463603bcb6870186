"""Fans events out to the exporters, after the export filters, counting everything."""

from __future__ import annotations

import logging
import sys
import threading
from collections import Counter
from typing import Protocol

import orjson

from appliance.export.fields import FieldFilter, RateLimiter, apply_all
from appliance.export.file import ExportWriteFailed, RotatingFile
from appliance.export.filters import EventFilter, event_kind

log = logging.getLogger("tetragon.export")


class Sink(Protocol):
    def emit(self, event: dict) -> None: ...
    def flush(self) -> int | None: ...
    def close(self) -> None: ...


class JsonLinesSink:
    """Buffers serialized events and writes them at each flush (one write per batch)."""

    def __init__(self, target: RotatingFile | None = None, stream=None):
        self.target = target
        self.stream = stream
        self._buf: list[bytes] = []

    def emit(self, event: dict) -> None:
        self._buf.append(orjson.dumps(event))

    def flush(self) -> int:
        """Write the buffered events; how many."""
        if not self._buf:
            return 0
        buf, self._buf = self._buf, []
        try:
            if self.target is not None:
                self.target.write_lines(buf)
        finally:
            if self.stream is not None:
                self.stream.write(b"\n".join(buf) + b"\n")
                self.stream.flush()
        return len(buf)

    def close(self) -> None:
        self.flush()
        if self.target is not None:
            self.target.close()


def stdout_sink() -> JsonLinesSink:
    return JsonLinesSink(stream=sys.stdout.buffer)


class Pipeline:
    """Counts every event by type, hands every event to the gRPC hub (its clients have
    their own filters), then applies the export allow/deny lists, the export rate limit
    and the field filters for the file and stdout exporters."""

    def __init__(self) -> None:
        self.sinks: dict[str, Sink] = {}
        self.export_filter = EventFilter()
        self.field_filters: list[FieldFilter] = []
        self.rate_limiter: RateLimiter | None = None
        self.node_name = ""
        self.clock = None  # appliance.events.common.Clock, for rate_limit_info events
        self.events = Counter()  # by event kind, before filters
        self.filtered = 0
        self.errors = Counter()
        self.write_lost = 0  # events the export file could not take (a full disk)
        self._failing: str | None = None  # why the export file fails, while it does
        self._lock = threading.Lock()  # sinks may be swapped from the API thread

    def set_sink(self, name: str, sink: Sink | None) -> None:
        with self._lock:
            old = self.sinks.pop(name, None)
            if sink is not None:
                self.sinks[name] = sink
        if old is not None:
            old.close()

    def emit(self, event: dict) -> None:
        self.events[event_kind(event)] += 1
        sinks = list(self.sinks.items())
        hub = self.sinks.get("grpc")
        if hub is not None:
            self._emit_to("grpc", hub, event)
        if self.export_filter and not self.export_filter(event):
            self.filtered += 1
            return
        rl = self.rate_limiter
        if rl is not None and not rl.allow():
            return
        if self.field_filters:
            event = apply_all(self.field_filters, event)
        for name, sink in sinks:
            if name != "grpc":
                self._emit_to(name, sink, event)

    def _emit_to(self, name: str, sink: Sink, event: dict) -> None:
        try:
            sink.emit(event)
        except Exception as e:  # a broken sink must not stop the others
            self.errors[f"sink_{name}"] += 1
            log.error("exporter %s failed: %s", name, e)

    def tick(self) -> None:
        """Once in a while from the event loop: close a rate-limit window, reporting drops
        as Tetragon does, with a rate_limit_info event."""
        rl = self.rate_limiter
        if rl is None:
            return
        dropped = rl.roll()
        if dropped:
            log.warning("export rate limit: %d events dropped in the last minute", dropped)
            info = {
                "rate_limit_info": {"number_of_dropped_process_events": str(dropped)},
                "node_name": self.node_name,
                "time": self.clock.now_str() if self.clock else "",
            }
            for name, sink in list(self.sinks.items()):
                if name != "grpc":
                    self._emit_to(name, sink, info)

    @property
    def rate_limited(self) -> int:
        return self.rate_limiter.dropped if self.rate_limiter else 0

    def flush(self) -> None:
        for name, sink in list(self.sinks.items()):
            try:
                wrote = sink.flush()
                if name == "file" and wrote and self._failing is not None:
                    log.warning("export file writable again; %d events were lost", self.write_lost)
                    self._failing = None
            except ExportWriteFailed as e:
                self.errors["export_file_write"] += 1
                self.write_lost += e.lines
                if self._failing is None:  # once per outage, not once per batch
                    log.error(
                        "cannot write the export file %s: %s; events are dropped and "
                        "counted (tetragon_events_lost_total{where=\"export_file\"}) until "
                        "it can be written again",
                        e.filename, e.strerror,
                    )  # fmt: skip
                self._failing = e.strerror or "error"
            except Exception as e:
                self.errors[f"sink_{name}"] += 1
                log.error("exporter %s failed to flush: %s", name, e)

    def close(self) -> None:
        with self._lock:
            sinks, self.sinks = self.sinks, {}
        for sink in sinks.values():
            sink.close()
