"""Hook arguments and data entries: indexes, sources, sizeArgIndex, buffer fields, resolve paths."""

from __future__ import annotations

import re

from appliance.policy import values as V
from appliance.policy.checks.context import Context
from appliance.policy.model import Arg, Hook, KProbeSpec, TracepointSpec, UProbeSpec
from appliance.policy.problems import PathT

_RESOLVE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[\d+\])?(\.[A-Za-z_][A-Za-z0-9_]*(\[\d+\])?)*$")

BUFFER_TYPES = frozenset({"char_buf", "char_iovec", "int32_arr"})

# Highest prototype position a size argument can have (sizeArgIndex is 1-based).
MAX_SIZE_ARG_INDEX = 6

KNOWN_DATA_SOURCES = frozenset({"current_task"})


def check_args(ctx: Context, p: PathT, hook: Hook, key: str, args: list[Arg]) -> None:
    declared = {a.index: a for a in hook.args}
    seen: set[int] = set()
    for j, arg in enumerate(args):
        q = p + (key, j)
        if key == "args":
            if arg.index in seen:
                ctx.warn(
                    q + ("index",),
                    f"index {arg.index} is declared twice; selectors use the first",
                )
            seen.add(arg.index)
        else:
            if not arg.source:
                ctx.error(q + ("source",), "a data entry needs a source (e.g. current_task)")
            elif arg.source not in KNOWN_DATA_SOURCES:
                ctx.warn(
                    q + ("source",), f"unknown data source '{arg.source}' (known: current_task)"
                )
        if arg.size_arg_index:
            check_size_arg(ctx, q, hook, arg, declared)
        if arg.return_copy:
            if arg.type not in BUFFER_TYPES:
                ctx.warn(
                    q + ("returnCopy",),
                    f"returnCopy is only used by char_buf and char_iovec, not {arg.type}",
                )
            elif not isinstance(hook, KProbeSpec | UProbeSpec):
                ctx.warn(q + ("returnCopy",), "returnCopy needs a return probe; it is ignored here")
        if arg.max_data:
            if arg.type not in BUFFER_TYPES | {"iov_iter"}:
                ctx.warn(
                    q + ("maxData",),
                    f"maxData is only used by buffer arguments, not {arg.type}",
                )
            elif arg.return_copy:
                ctx.warn(q + ("maxData",), "maxData does not work together with returnCopy")
        if arg.resolve and not _RESOLVE.match(arg.resolve):
            ctx.error(
                q + ("resolve",),
                f"'{arg.resolve}' is not a field path (names separated by dots, e.g. "
                "mm.owner.real_parent.comm)",
            )


def check_size_arg(ctx: Context, q: PathT, hook: Hook, arg: Arg, declared: dict[int, Arg]) -> None:
    n = arg.size_arg_index
    if arg.type not in BUFFER_TYPES:
        ctx.error(
            q + ("sizeArgIndex",),
            f"sizeArgIndex is only used by char_buf and char_iovec, not {arg.type}",
        )
        return
    if n > MAX_SIZE_ARG_INDEX:
        ctx.error(
            q + ("sizeArgIndex",),
            f"sizeArgIndex {n} is out of range (1..{MAX_SIZE_ARG_INDEX}; it is 1-based: "
            "3 designates the argument at index 2)",
        )
        return
    if isinstance(hook, TracepointSpec) and not hook.raw:
        return
    pos = n - 1
    if pos == arg.index:
        hint = ""
        nxt = declared.get(arg.index + 1)
        if nxt is not None and nxt.type in V.INT_TYPES:
            hint = f"; the size at index {arg.index + 1} is sizeArgIndex {arg.index + 2}"
        ctx.warn(
            q + ("sizeArgIndex",),
            f"sizeArgIndex is 1-based: {n} designates the argument at index {pos}, which is "
            f"this buffer itself{hint}",
        )
        return
    other = declared.get(pos)
    if other is not None and other.type not in V.INT_TYPES | {"auto"}:
        ctx.warn(
            q + ("sizeArgIndex",),
            f"sizeArgIndex {n} designates the argument at index {pos}, declared as "
            f"{other.type} rather than an integer",
        )
