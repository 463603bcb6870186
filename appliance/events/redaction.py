"""Redaction filters (--redaction-filters): secrets in process arguments never leave the agent.

One JSON object per line, as Tetragon takes them::

    {"redact": ["(?:--password|-p)(?:\\s+|=)(\\S*)"], "binary_regex": ["^/usr/bin/mysql$"]}

Each regular expression in ``redact`` is searched in a process's ``arguments``; the text of
every capture group of every match is replaced with ``*****`` (a pattern without capture
groups redacts nothing, as upstream). ``binary_regex`` restricts a filter to processes whose
binary matches one of the patterns; ``match`` (upstream's older form) is a list of event
filters evaluated on the process_exec event. Redaction happens when the process enters the
process cache, so the exec and exit events, every kprobe/tracepoint/LSM event that carries
the process, and its children's ``parent`` blocks all show the redacted text, in every
exporter (file, stdout and gRPC alike).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from appliance.errors import FilterError
from appliance.export.filters import (
    Predicate,
    compile_filter,
    compile_regexes,
    json_objects,
)

MASK = "*****"
_KNOWN = {"redact", "binary_regex", "match"}


@dataclass
class RedactionFilter:
    patterns: list[re.Pattern]
    binaries: list[re.Pattern]
    match: list[Predicate]

    def applies_to(self, proc: dict) -> bool:
        binary = proc.get("binary", "")
        if self.binaries and not any(b.search(binary) for b in self.binaries):
            return False
        if self.match:
            event = {"process_exec": {"process": proc}}
            return any(m(event) for m in self.match)
        return True


class Redactor:
    """The parsed --redaction-filters; :meth:`redact` runs once per exec."""

    def __init__(self, filters: list[RedactionFilter]):
        self.filters = filters

    def __bool__(self) -> bool:
        return bool(self.filters)

    def redact(self, proc: dict) -> bool:
        """Redact ``proc["arguments"]`` in place; whether anything was masked."""
        args = proc.get("arguments")
        if not args:
            return False
        out = args
        for f in self.filters:
            if f.applies_to(proc):
                for p in f.patterns:
                    out = _mask_groups(p, out)
        if out == args:
            return False
        proc["arguments"] = out
        return True


def _mask_groups(pattern: re.Pattern, text: str) -> str:
    if not pattern.groups:
        return text
    spans: list[tuple[int, int]] = []
    for m in pattern.finditer(text):
        for g in range(1, pattern.groups + 1):
            start, end = m.span(g)
            if start >= 0 and end > start:
                spans.append((start, end))
    if not spans:
        return text
    spans.sort()
    merged: list[list[int]] = []
    for start, end in spans:  # nested or overlapping groups: one mask for the union
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    parts, pos = [], 0
    for start, end in merged:
        parts.append(text[pos:start])
        parts.append(MASK)
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def parse_redaction_filters(text: str) -> Redactor:
    """Parse --redaction-filters; a bad filter raises FilterError naming its line and field."""
    filters = []
    for n, spec in enumerate(json_objects(text), 1):
        unknown = sorted(set(spec) - _KNOWN)
        if unknown:
            raise FilterError(
                f"filter {n}: unknown field {unknown[0]!r} (expected redact, binary_regex, match)"
            )
        redact = _strings(spec, "redact", n)
        if not redact:
            raise FilterError(f"filter {n}: redact: at least one regular expression is required")
        match = spec.get("match") or []
        if isinstance(match, dict):
            match = [match]
        if not isinstance(match, list) or not all(isinstance(m, dict) for m in match):
            raise FilterError(f"filter {n}: match: expected a list of event filters")
        try:
            predicates = [compile_filter(m) for m in match]
        except FilterError as e:
            raise FilterError(f"filter {n}: match: {e}") from None
        filters.append(
            RedactionFilter(
                patterns=compile_regexes(redact, f"filter {n}: redact"),
                binaries=compile_regexes(
                    _strings(spec, "binary_regex", n), f"filter {n}: binary_regex"
                ),
                match=predicates,
            )
        )
    return Redactor(filters)


def _strings(spec: dict, key: str, n: int) -> list[str]:
    v = spec.get(key) or []
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        raise FilterError(f"filter {n}: {key}: expected a list of regular expressions")
    return v
