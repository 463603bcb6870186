"""Field encodings shared by every Tetragon-shaped event."""

from __future__ import annotations

import base64
import re
import signal as _signal
import time

_CONTAINER_RE = re.compile(r"(?:^|[-:])([0-9a-f]{64})(?:\.scope)?$")
CONTAINER_ID_LEN = 31  # Tetragon reports the first 31 characters of a container id


class Clock:
    """Turns CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns) into RFC 3339 strings."""

    def __init__(self) -> None:
        self.resync()
        self._sec = -1
        self._prefix = ""

    def resync(self) -> None:
        self.offset = time.time_ns() - time.monotonic_ns()

    def wall_ns(self, ktime: int) -> int:
        return ktime + self.offset

    def rfc3339(self, wall_ns: int) -> str:
        sec, ns = divmod(wall_ns, 1_000_000_000)
        if sec != self._sec:
            self._sec = sec
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        return f"{self._prefix}.{ns:09d}Z"

    def ktime_str(self, ktime: int) -> str:
        return self.rfc3339(ktime + self.offset)

    def now_str(self) -> str:
        return self.rfc3339(time.time_ns())


def exec_id(node: str, ktime: int, pid: int) -> str:
    """Tetragon's process id: base64 of "node:ktime:pid", stable for one process."""
    return base64.b64encode(f"{node}:{ktime}:{pid}".encode()).decode()


def join_args(argv: list[str]) -> str:
    """argv[1:] as Tetragon shows it: space separated, arguments with spaces quoted."""
    out = []
    for a in argv[1:]:
        out.append(f'"{a}"' if " " in a else a)
    return " ".join(out)


def container_id(cgroup_name: str) -> str:
    """The container id in a cgroup name (docker-<id>.scope, <id>, cri-containerd-<id>)."""
    m = _CONTAINER_RE.search(cgroup_name)
    return m.group(1)[:CONTAINER_ID_LEN] if m else ""


def signal_name(sig: int) -> str:
    try:
        return _signal.Signals(sig).name
    except ValueError:
        return f"SIG{sig}"
