"""Tetragon's event filters (allow/deny lists) evaluated on JSON-shaped events.

A filter is a mapping of the Filter message's fields (binary_regex, namespace,
pid, pid_set, event_set, pod_regex, arguments_regex, parent_binary_regex,
container_id, policy_names, labels ...). Fields in one filter must all match;
``pod_regex`` matches the pod's name, and outside Kubernetes (a Docker container: no pod
name) the container's name, which compact lines show in place of ``namespace/pod``;
values within a field are alternatives. An event passes when it matches any
allow filter (or there are none) and no deny filter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable

import orjson

from appliance.errors import FilterError

EVENT_TYPES = {
    "process_exec": ("PROCESS_EXEC", 1),
    "process_exit": ("PROCESS_EXIT", 5),
    "process_kprobe": ("PROCESS_KPROBE", 9),
    "process_tracepoint": ("PROCESS_TRACEPOINT", 10),
    "process_loader": ("PROCESS_LOADER", 11),
    "process_uprobe": ("PROCESS_UPROBE", 12),
    "process_throttle": ("PROCESS_THROTTLE", 27),
    "process_lsm": ("PROCESS_LSM", 28),
    "process_usdt": ("PROCESS_USDT", 29),
    "rate_limit_info": ("RATE_LIMIT_INFO", 40001),
}
TYPE_BY_NAME = {name: key for key, (name, _n) in EVENT_TYPES.items()}
TYPE_BY_NUMBER = {num: key for key, (_name, num) in EVENT_TYPES.items()}

KNOWN_FIELDS = {
    "binary_regex",
    "namespace",
    "health_check",
    "pid",
    "pid_set",
    "event_set",
    "pod_regex",
    "arguments_regex",
    "labels",
    "policy_names",
    "capabilities",
    "parent_binary_regex",
    "container_id",
    "in_init_tree",
    "ancestor_binary_regex",
    "parent_arguments_regex",
    "cel_expression",
}

Predicate = Callable[[dict], bool]


def event_kind(event: dict) -> str:
    for k in event:
        if k in EVENT_TYPES:
            return k
    return ""


def _body(event: dict) -> dict:
    for k, v in event.items():
        if k in EVENT_TYPES:
            return v
    return {}


def compile_regexes(vals: Iterable[str], field: str) -> list[re.Pattern]:
    """Compiled patterns; a bad one raises FilterError naming ``field`` and the pattern."""
    out = []
    for v in vals:
        try:
            out.append(re.compile(v))
        except re.error as e:
            raise FilterError(f"{field}: invalid regular expression {v!r}: {e}") from None
    return out


def compile_filter(spec: dict) -> Predicate:
    """One filter -> predicate. Unknown fields are an error naming the field."""
    tests: list[Predicate] = []
    for field, val in spec.items():
        if val in (None, [], "", {}):
            continue
        if field not in KNOWN_FIELDS:
            raise FilterError(f"unknown filter field {field!r}")
        vals = val if isinstance(val, list) else [val]
        if field == "binary_regex":
            rx = compile_regexes(vals, field)
            tests.append(
                lambda e, rx=rx: any(
                    r.search(_body(e).get("process", {}).get("binary", "")) for r in rx
                )
            )
        elif field == "parent_binary_regex":
            rx = compile_regexes(vals, field)
            tests.append(
                lambda e, rx=rx: any(
                    r.search(_body(e).get("parent", {}).get("binary", "")) for r in rx
                )
            )
        elif field == "arguments_regex":
            rx = compile_regexes(vals, field)
            tests.append(
                lambda e, rx=rx: any(
                    r.search(_body(e).get("process", {}).get("arguments", "")) for r in rx
                )
            )
        elif field == "parent_arguments_regex":
            rx = compile_regexes(vals, field)
            tests.append(
                lambda e, rx=rx: any(
                    r.search(_body(e).get("parent", {}).get("arguments", "")) for r in rx
                )
            )
        elif field == "pod_regex":
            rx = compile_regexes(vals, field)
            tests.append(lambda e, rx=rx: any(r.search(_pod_name(e)) for r in rx))
        elif field == "namespace":
            ns = set(vals)
            tests.append(
                lambda e, ns=ns: (
                    _body(e).get("process", {}).get("pod", {}).get("namespace", "") in ns
                )
            )
        elif field in ("pid", "pid_set"):
            try:
                pids = {int(v) for v in vals}
            except (TypeError, ValueError):
                raise FilterError(f"{field}: expected process ids, got {val!r}") from None
            tests.append(lambda e, pids=pids: _body(e).get("process", {}).get("pid") in pids)
        elif field == "event_set":
            kinds = set()
            for v in vals:
                k = TYPE_BY_NAME.get(v) if isinstance(v, str) else TYPE_BY_NUMBER.get(v)
                if k is None:
                    raise FilterError(f"event_set: unknown event type {v!r}")
                kinds.add(k)
            tests.append(lambda e, kinds=kinds: event_kind(e) in kinds)
        elif field == "container_id":
            rx = compile_regexes(vals, field)
            tests.append(
                lambda e, rx=rx: any(
                    r.search(_body(e).get("process", {}).get("docker", "")) for r in rx
                )
            )
        elif field == "policy_names":
            names = set(vals)
            tests.append(lambda e, names=names: _body(e).get("policy_name", "") in names)
        elif field == "labels":
            sel = _parse_labels(vals)
            tests.append(
                lambda e, sel=sel: all(
                    _body(e).get("process", {}).get("pod", {}).get("pod_labels", {}).get(k) == v
                    for k, v in sel.items()
                )
            )
        elif field == "health_check":
            want = bool(val)
            tests.append(lambda e, want=want: not want or _is_health_check(e))
        # capabilities, in_init_tree, ancestor_binary_regex, cel_expression: accepted,
        # not applied (the events carry no such data yet)
    return lambda e: all(t(e) for t in tests)


def _pod_name(e: dict) -> str:
    """The pod's name; outside Kubernetes the container's, which compact lines show there."""
    pod = _body(e).get("process", {}).get("pod") or {}
    return pod.get("name") or (pod.get("container") or {}).get("name", "")


def _parse_labels(vals: list[str]) -> dict[str, str]:
    out = {}
    for v in vals:
        for part in str(v).split(","):
            k, _, val = part.partition("=")
            out[k.strip()] = val.strip()
    return out


def _is_health_check(e: dict) -> bool:
    p = _body(e).get("process", {})
    return p.get("binary", "").endswith(("/tetra", "/tetragon"))


class EventFilter:
    """Allow list + deny list."""

    def __init__(self, allow: list[dict] | None = None, deny: list[dict] | None = None):
        self.allow = [compile_filter(f) for f in (allow or [])]
        self.deny = [compile_filter(f) for f in (deny or [])]

    def __bool__(self) -> bool:
        return bool(self.allow or self.deny)

    def __call__(self, event: dict) -> bool:
        if self.allow and not any(f(event) for f in self.allow):
            return False
        return not any(f(event) for f in self.deny)


def parse_filter_list(text: str) -> list[dict]:
    """Tetragon's --export-allowlist syntax: one JSON object per line."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            raise FilterError(f"line {n}: not a JSON object: {e}") from None
        if not isinstance(obj, dict):
            raise FilterError(f"line {n}: expected a JSON object")
        compile_filter(obj)
        out.append(obj)
    return out


def json_objects(text: str) -> list[dict]:
    """A stream of JSON objects (one per line, or side by side), as the filter settings
    take them (--field-filters, --redaction-filters)."""
    decoder = json.JSONDecoder()
    out: list[dict] = []
    pos, length = 0, len(text or "")
    while True:
        while pos < length and text[pos].isspace():
            pos += 1
        if pos >= length:
            return out
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            raise FilterError(f"filter {len(out) + 1}: not a JSON object: {e.msg}") from None
        if not isinstance(obj, dict):
            raise FilterError(f"filter {len(out) + 1}: expected a JSON object")
        out.append(obj)
