"""The process sensor's messages: exec, fork (clone) and exit of every process.

bpf/process.bpf.c writes them (layouts in bpf/include/process_msgs.h, formats in
``wire``); this module decodes them and hands them to the process tracker, registering
its three message kinds with the agent's ``MessageTable``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Protocol

from appliance.sensors.dispatch import MessageTable
from appliance.sensors.wire import (
    ARGS_MAX,
    CLONE,
    EXEC,
    EXEC_DATA,
    EXEC_EXTRA,
    EXIT,
    HEADER,
    MSG_CLONE,
    MSG_EXEC,
    MSG_EXIT,
    PATH_TRUNCATED,
    CloneMsg,
    ExecMsg,
    ExitMsg,
)


class ProcessEvents(Protocol):
    """What turns decoded process messages into events (appliance.events.process)."""

    def on_exec(self, m: ExecMsg) -> dict: ...

    def on_exit(self, m: ExitMsg) -> dict | None: ...

    def on_clone(self, m: CloneMsg) -> None: ...


class ProcessSensor:
    """Decodes the base sensor's messages; exec and exit events go to ``emit``."""

    name = "process"

    def __init__(self, tracker: ProcessEvents, emit: Callable[[dict], None]):
        self.tracker = tracker
        self.emit = emit

    def register(self, table: MessageTable) -> None:
        table.register(MSG_EXEC, self.name, self.on_exec)
        table.register(MSG_CLONE, self.name, self.on_clone)
        table.register(MSG_EXIT, self.name, self.on_exit)

    def on_exec(self, data: bytes) -> None:
        self.emit(self.tracker.on_exec(decode_exec(data)))

    def on_clone(self, data: bytes) -> None:
        self.tracker.on_clone(decode_clone(data))

    def on_exit(self, data: bytes) -> None:
        ev = self.tracker.on_exit(decode_exit(data))
        if ev is not None:
            self.emit(ev)


def _path(raw: bytes, comps: int) -> str:
    """Components arrive leaf first, NUL-terminated; the root is implied."""
    if comps == 0:
        return "/"
    parts = raw.split(b"\0", comps)[:comps]
    parts.reverse()
    # "/" is ASCII: decoding the joined bytes equals decoding each part
    return "/" + b"/".join(parts).decode(errors="replace")


def decode_exec(buf: bytes) -> ExecMsg:
    _t, _f, _p, _size, pid, tid, ktime = HEADER.unpack_from(buf)
    fields = EXEC.unpack_from(buf, HEADER.size)
    # ppid uid euid gid egid auid start_time cgroup_id pid_ns mnt_ns: ExecMsg's order
    ids = fields[:10]
    args_len, path_len, cwd_len, cg_len, path_comps, cwd_comps, path_flags, _cwd_flags, nspid = (
        fields[10:]
    )
    o = EXEC_DATA
    # NUL is ASCII: decoding once then splitting equals splitting then decoding
    argv = buf[o : o + args_len].decode(errors="replace").split("\0")
    o += args_len
    binary = buf[o : o + path_len].split(b"\0", 1)[0].decode(errors="replace")
    o += path_len
    cwd = _path(buf[o : o + cwd_len], cwd_comps)
    o += cwd_len
    if binary and binary[0] != "/":
        binary = os.path.normpath(os.path.join(cwd, binary))
    cg = buf[o : o + cg_len].split(b"\0", 1)[0].decode(errors="replace")
    if argv[-1] == "":
        argv.pop()
    return ExecMsg(
        pid,
        tid,
        ktime,
        *ids,
        argv,
        binary,
        cwd,
        cg,
        args_len >= ARGS_MAX,
        bool(path_flags & PATH_TRUNCATED),
        EXEC_EXTRA.unpack_from(buf, HEADER.size + EXEC.size),
        nspid,
    )


def decode_clone(buf: bytes) -> CloneMsg:
    _t, _f, _p, _size, pid, tid, ktime = HEADER.unpack_from(buf)
    ppid, _pad, start_time = CLONE.unpack_from(buf, HEADER.size)
    return CloneMsg(pid, tid, ktime, ppid, start_time)


def decode_exit(buf: bytes) -> ExitMsg:
    _t, _f, _p, _size, pid, tid, ktime = HEADER.unpack_from(buf)
    code, _pad, start_time = EXIT.unpack_from(buf, HEADER.size)
    return ExitMsg(pid, tid, ktime, code, start_time)
