"""Fans events out to the exporters, after the export filters, counting everything."""

from __future__ import annotations

import logging
import sys
import threading
from collections import Counter
from typing import Protocol

import orjson

from appliance.export.file import RotatingFile
from appliance.export.filters import EventFilter, event_kind

log = logging.getLogger("tetragon.export")


class Sink(Protocol):
    def emit(self, event: dict) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


class JsonLinesSink:
    """Buffers serialized events and writes them at each flush (one write per batch)."""

    def __init__(self, target: RotatingFile | None = None, stream=None):
        self.target = target
        self.stream = stream
        self._buf: list[bytes] = []

    def emit(self, event: dict) -> None:
        self._buf.append(orjson.dumps(event))

    def flush(self) -> None:
        if not self._buf:
            return
        buf, self._buf = self._buf, []
        if self.target is not None:
            self.target.write_lines(buf)
        if self.stream is not None:
            self.stream.write(b"\n".join(buf) + b"\n")
            self.stream.flush()

    def close(self) -> None:
        self.flush()
        if self.target is not None:
            self.target.close()


def stdout_sink() -> JsonLinesSink:
    return JsonLinesSink(stream=sys.stdout.buffer)


class Pipeline:
    """Counts every event by type, applies export filters, hands events to sinks."""

    def __init__(self) -> None:
        self.sinks: dict[str, Sink] = {}
        self.export_filter = EventFilter()
        self.events = Counter()  # by event kind, before filters
        self.filtered = 0
        self.errors = Counter()
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
        if self.export_filter and not self.export_filter(event):
            self.filtered += 1
            return
        for name, sink in list(self.sinks.items()):
            try:
                sink.emit(event)
            except Exception as e:  # a broken sink must not stop the others
                self.errors[f"sink_{name}"] += 1
                log.error("exporter %s failed: %s", name, e)

    def flush(self) -> None:
        for name, sink in list(self.sinks.items()):
            try:
                sink.flush()
            except Exception as e:
                self.errors[f"sink_{name}"] += 1
                log.error("exporter %s failed to flush: %s", name, e)

    def close(self) -> None:
        with self._lock:
            sinks, self.sinks = self.sinks, {}
        for sink in sinks.values():
            sink.close()
