"""The per-file verdict cache of the file equivalents (see bpf/include/file_verdict.h).

On syscall tracepoints every read and write of every file runs the policy's program;
walking the file's path to compare it with the selectors costs microseconds. A file that
no selector's path condition matches is remembered, per CPU, with what its path depends
on; the next call on it leaves after a few loads. This module decides when a hook can use
the cache, emits its C and names the programs that invalidate it.
"""

from __future__ import annotations

from functools import lru_cache

from appliance.bpf.libbpf import function_arg_count
from appliance.bpf.tracefs import tracepoint_format

#: syscalls that can change the path of an already open file (rename of an ancestor,
#: the mount tree above it); their exit forgets every cached verdict
INVALIDATING_SYSCALLS = (
    "rename", "renameat", "renameat2", "mount", "umount", "move_mount", "pivot_root",
    "mount_setattr",
)  # fmt: skip


@lru_cache(maxsize=8)
def has_rdonly_cast(btf: str) -> bool:
    """bpf_rdonly_cast (Linux >= 6.2) lets the cache read the fd table with plain loads."""
    try:
        return function_arg_count(btf, "bpf_rdonly_cast") is not None
    except Exception:  # no libbpf or unreadable BTF: the slower variant works everywhere
        return False


def invalidators() -> list[tuple[str, str, str]]:
    """(program, attach method, tracepoint) of each invalidating syscall this kernel has."""
    out = []
    for sc in INVALIDATING_SYSCALLS:
        if tracepoint_format("syscalls", f"sys_exit_{sc}") is not None:
            out.append((f"fv_inval_{sc}", "tracepoint", f"syscalls/sys_exit_{sc}"))
    return out


def usable(plan) -> bool:
    """The cache holds "no selector's path condition matches": it needs a file argument
    read from an fd as the hook's only captured argument, and a path condition in every
    selector (a selector without one may match any file)."""
    if not plan.verdict_fd or plan.nslots != 1 or not plan.selectors:
        return False
    slot_args = [a for a in plan.args if a.slot >= 0]
    return len(slot_args) == 1 and slot_args[0].type in ("file", "path")


def header(cast: bool) -> list[str]:
    return (["#define FV_RDONLY_CAST"] if cast else []) + ['#include "file_verdict.h"']


def invalidator_programs(progs: list[tuple[str, str, str]]) -> str:
    return "".join(
        f'\nSEC("tracepoint/{target}")\nint {name}(void *ctx)\n{{\n\tfv_invalidate();\n'
        "\treturn 0;\n}\n"
        for name, _method, target in progs
    )
