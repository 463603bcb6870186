"""Learns the processes already running when the agent starts, from procfs."""

from __future__ import annotations

import os
from dataclasses import dataclass

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(slots=True)
class ProcInfo:
    pid: int
    ppid: int
    start_ns: int  # since boot, like task->start_time
    uid: int
    auid: int
    binary: str
    argv: list[str]
    cwd: str
    cgroup_name: str
    is_kernel_thread: bool


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def read_proc(procfs: str, pid: int) -> ProcInfo | None:
    base = f"{procfs}/{pid}"
    try:
        stat = _read(f"{base}/stat").decode(errors="replace")
        # comm may hold spaces and parentheses: split after the last ')'
        fields = stat[stat.rindex(")") + 2 :].split()
        ppid = int(fields[1])
        flags = int(fields[6])
        start_ticks = int(fields[19])
        status = _read(f"{base}/status").decode(errors="replace")
        uid = 0
        for line in status.splitlines():
            if line.startswith("Uid:"):
                uid = int(line.split()[1])
                break
        try:
            auid = int(_read(f"{base}/loginuid"))
        except (OSError, ValueError):
            auid = 0xFFFFFFFF
        cmdline = _read(f"{base}/cmdline")
        argv = [a.decode(errors="replace") for a in cmdline.split(b"\0")]
        if argv and argv[-1] == "":
            argv.pop()
        kthread = bool(flags & 0x00200000)  # PF_KTHREAD
        try:
            binary = os.readlink(f"{base}/exe")
        except OSError:
            binary = argv[0] if argv else ""
        try:
            cwd = os.readlink(f"{base}/cwd")
        except OSError:
            cwd = ""
        cg = ""
        try:
            for line in _read(f"{base}/cgroup").decode().splitlines():
                if line.startswith("0::"):
                    cg = line[3:].rstrip("/").rsplit("/", 1)[-1]
        except OSError:
            pass
    except (OSError, ValueError):
        return None  # the process went away while we read it
    if binary.endswith(" (deleted)"):
        binary = binary[: -len(" (deleted)")]
    return ProcInfo(
        pid=pid,
        ppid=ppid,
        start_ns=start_ticks * (1_000_000_000 // CLK_TCK),
        uid=uid,
        auid=auid,
        binary=binary,
        argv=argv,
        cwd=cwd,
        cgroup_name=cg,
        is_kernel_thread=kthread,
    )


def scan(procfs: str = "/proc") -> list[ProcInfo]:
    """All processes, parents before children (by start time)."""
    out = []
    for name in os.listdir(procfs):
        if name.isdigit():
            info = read_proc(procfs, int(name))
            if info is not None:
                out.append(info)
    out.sort(key=lambda p: (p.start_ns, p.pid))
    return out
