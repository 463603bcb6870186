"""The process cache: every live process's Tetragon `process` block, by pid.

Entries are created by exec and fork messages and by the procfs scan at start,
and freed when the process exits; the size is bounded (oldest evicted first).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Entry:
    process: dict  # the exported "process" block (exec_id, pid, binary, ...)
    ppid: int
    parent_exec_id: str
    is_clone: bool  # created by fork, not yet exec'd
    ktime: int
    cgroup_id: int = 0


class ProcessCache:
    def __init__(self, max_size: int = 65536):
        self.max_size = max_size
        self._by_pid: dict[int, Entry] = {}
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._by_pid)

    def get(self, pid: int) -> Entry | None:
        return self._by_pid.get(pid)

    def put(self, pid: int, entry: Entry) -> None:
        by_pid = self._by_pid
        by_pid.pop(pid, None)
        by_pid[pid] = entry
        while len(by_pid) > self.max_size:
            del by_pid[next(iter(by_pid))]
            self.evicted += 1

    def remove(self, pid: int) -> Entry | None:
        return self._by_pid.pop(pid, None)

    def parent_of(self, entry: Entry) -> Entry | None:
        parent = self._by_pid.get(entry.ppid)
        if parent is not None and parent.process["exec_id"] == entry.parent_exec_id:
            return parent
        return None

    def items(self):
        return list(self._by_pid.items())
