"""The kernel's tracefs: where it is mounted and the field layout of a tracepoint."""

from __future__ import annotations

import os
import re


def tracefs_root() -> str:
    for d in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        if os.path.isdir(os.path.join(d, "events")):
            return d
    return "/sys/kernel/tracing"


def tracepoint_format(subsys: str, event: str) -> list[tuple[str, int, int, bool]] | None:
    """(name, offset, size, signed) of each field of a tracepoint, common fields included."""
    path = os.path.join(tracefs_root(), "events", subsys, event, "format")
    try:
        text = open(path).read()
    except OSError:
        return None
    out = []
    rx = re.compile(r"field:(.*?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);")
    for m in rx.finditer(text):
        decl = m.group(1).strip()
        name = re.split(r"[\s*]", decl.split("[")[0])[-1]
        out.append((name, int(m.group(2)), int(m.group(3)), m.group(4) == "1"))
    return out


def tracepoint_field_decls(subsys: str, event: str) -> list[str] | None:
    """The C declaration of each field of a tracepoint (``unsigned long args[6]``),
    common fields included, in the order of :func:`tracepoint_format`."""
    path = os.path.join(tracefs_root(), "events", subsys, event, "format")
    try:
        text = open(path).read()
    except OSError:
        return None
    return [m.group(1).strip() for m in re.finditer(r"field:(.*?);\s*offset:", text)]


def available_functions() -> list[str] | None:
    """The functions ftrace can attach to (available_filter_functions), without their
    module suffix and each once; None where tracefs does not list them."""
    path = os.path.join(tracefs_root(), "available_filter_functions")
    try:
        with open(path) as f:
            names = [line.split(None, 1)[0] for line in f if line.strip()]
    except OSError:
        return None
    return list(dict.fromkeys(names))
