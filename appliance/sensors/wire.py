"""Decoding of the messages the BPF programs put on the ring buffer.

The C definitions are in bpf/include/process_msgs.h; ``LAYOUTS`` names the struct each
format reads, and tests/unit/test_wire_layouts.py checks them against the objects' BTF.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from appliance.bpf.layout import Layout

MSG_EXEC, MSG_CLONE, MSG_EXIT, MSG_POLICY = 1, 2, 3, 4
PATH_TRUNCATED = 1
ARGS_MAX = 4095

HEADER = struct.Struct("<BBHIIIQ")  # type, flags, pad, size, pid, tid, ktime
EXEC = struct.Struct("<6IQQII4H4BI")
CLONE = struct.Struct("<IIQ")
EXIT = struct.Struct("<IIQ")
EXEC_EXTRA = struct.Struct("<6I3Q10I")  # creds, capabilities, namespaces
EXEC_DATA = HEADER.size + EXEC.size + EXEC_EXTRA.size
EXEC_INFO = struct.Struct("<II256s")  # bin_len, flags, bin: the execve_map value

LAYOUTS = (
    Layout("msg_header", (HEADER,)),
    Layout("msg_exec", (HEADER, EXEC, EXEC_EXTRA), tail="data"),
    Layout("msg_clone", (HEADER, CLONE)),
    Layout("msg_exit", (HEADER, EXIT)),
    Layout("exec_info", (EXEC_INFO,)),
)


@dataclass(slots=True)
class ExecMsg:
    pid: int
    tid: int
    ktime: int
    ppid: int
    uid: int
    euid: int
    gid: int
    egid: int
    auid: int
    start_time: int
    cgroup_id: int
    pid_ns: int
    mnt_ns: int
    argv: list[str]
    binary: str
    cwd: str
    cgroup_name: str
    trunc_args: bool
    trunc_path: bool
    extra: tuple = ()  # suid sgid fsuid fsgid securebits pad, 3 cap sets, 10 namespaces
    nspid: int = 0  # the pid in the process's own pid namespace


@dataclass(slots=True)
class CloneMsg:
    pid: int
    tid: int
    ktime: int
    ppid: int
    start_time: int


@dataclass(slots=True)
class ExitMsg:
    pid: int
    tid: int
    ktime: int
    exit_code: int
    start_time: int


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
    (
        ppid,
        uid,
        euid,
        gid,
        egid,
        auid,
        start_time,
        cgroup_id,
        pid_ns,
        mnt_ns,
        args_len,
        path_len,
        cwd_len,
        cg_len,
        path_comps,
        cwd_comps,
        path_flags,
        cwd_flags,
        nspid,
    ) = EXEC.unpack_from(buf, HEADER.size)
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
        ppid,
        uid,
        euid,
        gid,
        egid,
        auid,
        start_time,
        cgroup_id,
        pid_ns,
        mnt_ns,
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
