"""The layouts of the messages the BPF programs put on the ring buffer, and what they carry.

The C definitions are in bpf/include/process_msgs.h; ``LAYOUTS`` names the struct each
format reads, and tests/unit/test_wire_layouts.py checks them against the objects' BTF.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from appliance.bpf.layout import Layout

MSG_EXEC, MSG_CLONE, MSG_EXIT, MSG_POLICY = 1, 2, 3, 4
PATH_TRUNCATED = 1
ARGS_MAX = 4095
BINARY_MAX = 256  # bytes of exec_info.bin, the NUL included

HEADER = struct.Struct("<BBHIIIQ")  # type, flags, pad, size, pid, tid, ktime
EXEC = struct.Struct("<6IQQII4H4BI")
CLONE = struct.Struct("<IIQ")
EXIT = struct.Struct("<IIQ")
EXEC_EXTRA = struct.Struct("<6I3Q10I")  # creds, capabilities, namespaces
EXEC_DATA = HEADER.size + EXEC.size + EXEC_EXTRA.size
EXEC_INFO_STATE = 1  # exec_info.flags: the caps and namespaces hold the state at exec
# the execve_map value: bin_len, flags, bin, then caps and namespaces at exec, padding
EXEC_INFO = struct.Struct(f"<II{BINARY_MAX}s3Q10I2I")
EXEC_INFO_KEY = struct.Struct("<I")  # the execve_map key: a thread-group id

LAYOUTS = (
    Layout("msg_header", (HEADER,)),
    Layout("msg_exec", (HEADER, EXEC, EXEC_EXTRA), tail="data"),
    Layout("msg_clone", (HEADER, CLONE)),
    Layout("msg_exit", (HEADER, EXIT)),
    Layout("exec_info", (EXEC_INFO,)),
)


def exec_info(binary: str) -> bytes:
    """The execve_map value of a process older than the agent (room kept for a NUL).

    Its exec-time capabilities and namespaces are unknown: they stay zero and the flags
    leave out EXEC_INFO_STATE, so matchCapabilityChanges/matchNamespaceChanges skip it.
    """
    b = binary.encode()[: BINARY_MAX - 1]
    return EXEC_INFO.pack(len(b), 0, b, 0, 0, 0, *([0] * 12))


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
