"""`spec.loader: true`: process_loader events, one per executable file a process maps.

Tetragon reports each executable mapping (perf mmap events) with the file's path and GNU
build id. The engine hooks the syscalls/sys_enter_mmap tracepoint, present on every
kernel it runs on, keeping the calls whose protection has PROT_EXEC and whose fd is a
file (resolved through the fd table, as fd arguments are), and reads the build id from
the file in user space. The program the kernel maps at execve is not reported (it is
in process_exec); the libraries the dynamic linker maps are.
"""

from __future__ import annotations

import base64
import functools
import os
from typing import TYPE_CHECKING

from appliance.bpf.elf import elf_build_id

if TYPE_CHECKING:
    from appliance.policy.model import TracepointSpec, TracingPolicy

PROT_EXEC = 0x4
# sys_enter_mmap format field indexes (common fields first, then __syscall_nr, addr,
# len, prot, flags, fd, off): stable since the syscall tracepoints exist
PROT_FIELD, FD_FIELD = 7, 9


@functools.cache
def hook() -> TracepointSpec:
    """The tracepoint the loader runs on, built on first use: the policy model (pydantic)
    loads with the first policy, not with the agent."""
    from appliance.policy.model import TracepointSpec

    return TracepointSpec.model_validate(
        {
            "subsystem": "syscalls",
            "event": "sys_enter_mmap",
            "args": [{"index": FD_FIELD, "type": "fd"}, {"index": PROT_FIELD, "type": "uint64"}],
            "selectors": [
                {
                    "matchArgs": [
                        {"index": PROT_FIELD, "operator": "Mask", "values": [str(PROT_EXEC)]}
                    ]
                }
            ],
        }
    )


def wanted(policy: TracingPolicy) -> bool:
    return bool(policy.spec.loader)


@functools.lru_cache(maxsize=1024)
def _build_id(path: str, inode: int, mtime_ns: int) -> bytes | None:
    return elf_build_id(path)


def build_id(pid: int, path: str) -> bytes | None:
    """The build id of the file a process mapped, read through its root (its mount
    namespace), or from the host path once the process is gone."""
    for p in (f"/proc/{pid}/root{path}", path):
        try:
            st = os.stat(p)
        except OSError:
            continue
        return _build_id(p, st.st_ino, st.st_mtime_ns)
    return None


def event_body(body: dict, args: list[dict], pid: int) -> dict | None:
    """The process_loader body from the hook's decoded args (None: not a file mapping)."""
    path = (args[0].get("file_arg") or {}).get("path", "") if args else ""
    if not path:
        return None
    out = {k: body[k] for k in ("process", "parent") if k in body}
    out["path"] = path
    bid = build_id(pid, path)
    if bid:
        out["buildid"] = base64.b64encode(bid).decode()
    return out
