"""Turns exec, fork and exit messages into Tetragon process_exec / process_exit events."""

from __future__ import annotations

from appliance.events.common import Clock, container_id, exec_id, join_args, signal_name
from appliance.metadata import MetadataSource, pod_block, with_pod
from appliance.process.cache import Entry, ProcessCache
from appliance.process.procfs import ProcInfo
from appliance.sensors.wire import CloneMsg, ExecMsg, ExitMsg


class ProcessTracker:
    """Keeps the process cache in step with the kernel and builds the events."""

    def __init__(
        self,
        node_name: str,
        cache: ProcessCache,
        clock: Clock,
        metadata: MetadataSource | None = None,
        procfs: str = "/proc",
    ):
        self.node = node_name
        self.cache = cache
        self.clock = clock
        self.misses = 0
        # container name and image for the `pod` block (None: container ids only)
        self.metadata = metadata
        self.procfs = procfs

    # -- procfs at start ---------------------------------------------------------
    def learn(self, infos: list[ProcInfo]) -> int:
        """Add processes running before the agent, parents first."""
        n = 0
        for p in infos:
            if p.is_kernel_thread and p.pid != 2:
                continue
            eid = exec_id(self.node, p.start_ns, p.pid)
            parent = self.cache.get(p.ppid)
            flags = "procFS auid"
            if p.cwd == "/":
                flags += " rootcwd"
            proc = {
                "exec_id": eid,
                "pid": p.pid,
                "uid": p.uid,
                "cwd": p.cwd,
                "binary": p.binary,
                "arguments": join_args(p.argv),
                "flags": flags,
                "start_time": self.clock.ktime_str(p.start_ns),
                "auid": p.auid,
            }
            cid = container_id(p.cgroup_name)
            if cid:
                pod = pod_block(self.metadata, cid, 0, p.pid, self.procfs)
                if pod:
                    proc["pod"] = pod
                proc["docker"] = cid
            pexec = parent.process["exec_id"] if parent else ""
            if pexec:
                proc["parent_exec_id"] = pexec
            proc["tid"] = p.pid
            _drop_empty(proc)
            self.cache.put(p.pid, Entry(proc, p.ppid, pexec, False, p.start_ns))
            n += 1
        return n

    # -- kernel messages -----------------------------------------------------------
    def on_clone(self, m: CloneMsg) -> None:
        parent = self.cache.get(m.ppid)
        if parent is None:
            self.misses += 1
            return
        proc = dict(parent.process)
        proc["exec_id"] = exec_id(self.node, m.ktime, m.pid)
        proc["pid"] = m.pid
        proc["tid"] = m.pid
        proc["flags"] = "clone"
        proc["start_time"] = self.clock.ktime_str(m.ktime)
        pexec = parent.process["exec_id"]
        proc["parent_exec_id"] = pexec
        self.cache.put(m.pid, Entry(proc, m.ppid, pexec, True, m.ktime, parent.cgroup_id))

    def on_exec(self, m: ExecMsg) -> dict:
        prev = self.cache.get(m.pid)
        if prev is not None:
            ppid, pexec = prev.ppid, prev.parent_exec_id
        else:
            parent = self.cache.get(m.ppid)
            ppid, pexec = m.ppid, (parent.process["exec_id"] if parent else "")
        flags = "execve"
        if m.trunc_path:
            flags += " truncFilename"
        if m.trunc_args:
            flags += " truncArgs"
        if m.cwd == "/":
            flags += " rootcwd"
        if prev is not None and prev.is_clone:
            flags += " clone"
        proc = {
            "exec_id": exec_id(self.node, m.ktime, m.pid),
            "pid": m.pid,
            "uid": m.uid,
            "cwd": m.cwd,
            "binary": m.binary,
            "arguments": join_args(m.argv),
            "flags": flags,
            "start_time": self.clock.ktime_str(m.ktime),
            "auid": m.auid,
        }
        cid = container_id(m.cgroup_name)
        if cid:
            pod = pod_block(self.metadata, cid, m.cgroup_id, m.pid, self.procfs)
            if pod:
                proc["pod"] = pod
            proc["docker"] = cid
        if pexec:
            proc["parent_exec_id"] = pexec
        proc["tid"] = m.tid
        _drop_empty(proc)
        entry = Entry(proc, ppid, pexec, False, m.ktime, m.cgroup_id)
        self.cache.put(m.pid, entry)
        body: dict = {"process": proc}
        parent = self.cache.parent_of(entry)
        if parent is not None:
            body["parent"] = parent.process
        return {
            "process_exec": body,
            "node_name": self.node,
            "time": self.clock.ktime_str(m.ktime),
        }

    def on_exit(self, m: ExitMsg) -> dict | None:
        entry = self.cache.remove(m.pid)
        if entry is None:
            self.misses += 1
            return None
        proc = entry.process
        if proc.get("tid") != m.tid:
            proc = dict(proc, tid=m.tid)
        if "docker" in proc and "pod" not in proc and self.metadata is not None:
            # the container was not known yet at exec time
            pod = pod_block(self.metadata, proc["docker"], entry.cgroup_id, m.pid, self.procfs)
            if pod:
                proc = with_pod(proc, pod)
        t = self.clock.ktime_str(m.ktime)
        body: dict = {"process": proc}
        parent = self.cache.parent_of(entry)
        if parent is not None:
            body["parent"] = parent.process
        sig = m.exit_code & 0x7F
        if sig:
            body["signal"] = signal_name(sig)
        status = (m.exit_code >> 8) & 0xFF
        if status:
            body["status"] = status
        body["time"] = t
        return {"process_exit": body, "node_name": self.node, "time": t}


def _drop_empty(proc: dict) -> None:
    """protojson leaves out empty strings; so do we."""
    for k in ("cwd", "arguments", "binary"):
        if proc.get(k) == "":
            del proc[k]
