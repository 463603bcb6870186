"""Field filters (--field-filters, GetEventsRequest.field_filters) and the export rate limit.

A field filter keeps (INCLUDE) or removes (EXCLUDE) fields of the events whose type is in
its event_set (or not in it, with invert_event_set). Paths are relative to the event body,
e.g. `process.exec_id`. Events are shared with other exporters, so filtering copies.
"""

from __future__ import annotations

import re
import time

from appliance.errors import FilterError
from appliance.export.filters import TYPE_BY_NAME, TYPE_BY_NUMBER, event_kind

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _snake(path: str) -> str:
    return ".".join(_CAMEL.sub("_", part).lower() for part in path.split("."))


class FieldFilter:
    def __init__(self, spec: dict):
        fields = spec.get("fields", "")
        if isinstance(fields, dict):  # FieldMask as a message: {"paths": [...]}
            fields = ",".join(fields.get("paths", []))
        if isinstance(fields, list):
            fields = ",".join(fields)
        self.paths = [_snake(p.strip()).split(".") for p in str(fields).split(",") if p.strip()]
        if not self.paths:
            raise FilterError("field filter: 'fields' names no field")
        action = spec.get("action", "INCLUDE")
        if action in (0, "INCLUDE"):
            self.include = True
        elif action in (1, "EXCLUDE"):
            self.include = False
        else:
            raise FilterError(f"field filter: action {action!r} is not INCLUDE or EXCLUDE")
        kinds = set()
        for v in spec.get("event_set", []) or []:
            k = TYPE_BY_NAME.get(v) if isinstance(v, str) else TYPE_BY_NUMBER.get(v)
            if k is None:
                raise FilterError(f"field filter: unknown event type {v!r}")
            kinds.add(k)
        self.kinds = kinds
        inv = spec.get("invert_event_set", False)
        self.invert = bool(inv.get("value") if isinstance(inv, dict) else inv)

    def applies(self, kind: str) -> bool:
        hit = not self.kinds or kind in self.kinds
        return not hit if self.invert else hit

    def apply(self, event: dict) -> dict:
        kind = event_kind(event)
        if not kind or not self.applies(kind):
            return event
        body = event[kind]
        new_body = _include(body, self.paths) if self.include else _exclude(body, self.paths)
        out = dict(event)
        out[kind] = new_body
        return out


def _include(body: dict, paths: list[list[str]]) -> dict:
    out: dict = {}
    for path in paths:
        src, dst = body, out
        for i, key in enumerate(path):
            if not isinstance(src, dict) or key not in src:
                break
            if i == len(path) - 1:
                dst[key] = src[key]
            else:
                dst = dst.setdefault(key, {})
                src = src[key]
    return out


def _exclude(body: dict, paths: list[list[str]]) -> dict:
    out = dict(body)
    for path in paths:
        dst = out
        for i, key in enumerate(path):
            if not isinstance(dst, dict) or key not in dst:
                break
            if i == len(path) - 1:
                del dst[key]
            else:
                dst[key] = dict(dst[key]) if isinstance(dst[key], dict) else dst[key]
                dst = dst[key]
    return out


def parse_field_filters(specs: list[dict]) -> list[FieldFilter]:
    return [FieldFilter(s) for s in specs]


def apply_all(filters: list[FieldFilter], event: dict) -> dict:
    for f in filters:
        event = f.apply(event)
    return event


class RateLimiter:
    """At most `per_minute` events a minute; the rest are dropped and counted."""

    def __init__(self, per_minute: int, clock=time.monotonic):
        self.limit = per_minute
        self.clock = clock
        self.window_start = clock()
        self.count = 0
        self.dropped_in_window = 0
        self.dropped = 0

    def allow(self) -> bool:
        if self.limit < 0:
            return True
        self.count += 1
        if self.count <= self.limit:
            return True
        self.dropped_in_window += 1
        self.dropped += 1
        return False

    def roll(self) -> int:
        """Start a new window when a minute has passed; returns the previous window's drops."""
        now = self.clock()
        if now - self.window_start < 60:
            return 0
        dropped, self.dropped_in_window = self.dropped_in_window, 0
        self.count = 0
        self.window_start = now
        return dropped
