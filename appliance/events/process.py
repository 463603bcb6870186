"""Turns exec, fork and exit messages into Tetragon process_exec / process_exit events."""

from __future__ import annotations

from appliance.events.common import Clock, container_id, exec_id, join_args, signal_name
from appliance.events.redaction import Redactor
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
        self.enable_cred = False  # --enable-process-cred: cap and process_credentials
        self.enable_ns = False  # --enable-process-ns: ns
        # container name and image for the `pod` block (None: container ids only)
        self.metadata = metadata
        self.procfs = procfs
        self.redactor: Redactor | None = None  # --redaction-filters
        self.redacted = 0  # processes whose arguments were redacted
        # --enable-ancestors: event kinds (base, kprobe, tracepoint, uprobe, lsm) that
        # carry the ancestors beyond the parent
        self.ancestors_for: frozenset[str] = frozenset()

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
            self._redact(proc)
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
            pod = pod_block(
                self.metadata,
                cid,
                m.cgroup_id,
                m.pid,
                self.procfs,
                ns_pid=m.nspid,
                start_time=proc["start_time"],
            )
            if pod:
                proc["pod"] = pod
            proc["docker"] = cid
        if pexec:
            proc["parent_exec_id"] = pexec
        if m.extra and (self.enable_cred or self.enable_ns):
            _suid, _sgid, _fsuid, _fsgid, _sb, _p, cperm, ceff, cinh, *ns = m.extra
            if self.enable_cred:
                proc["cap"] = caps_block(cperm, ceff, cinh)
            if self.enable_ns:
                proc["ns"] = ns_block(ns)
        proc["tid"] = m.tid
        if m.extra and self.enable_cred:
            proc["process_credentials"] = cred_block(m)
        self._redact(proc)
        _drop_empty(proc)
        entry = Entry(proc, ppid, pexec, False, m.ktime, m.cgroup_id)
        self.cache.put(m.pid, entry)
        body: dict = {"process": proc}
        parent = self.cache.parent_of(entry)
        if parent is not None:
            body["parent"] = parent.process
            self.add_ancestors(body, parent, "base")
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
        if parent is not None:
            self.add_ancestors(body, parent, "base")
        return {"process_exit": body, "node_name": self.node, "time": t}

    def _redact(self, proc: dict) -> None:
        """--redaction-filters on a process entering the cache, counted when it masked."""
        if self.redactor is not None and self.redactor.redact(proc):
            self.redacted += 1

    def add_ancestors(self, body: dict, parent: Entry, kind: str) -> None:
        """``body["ancestors"]``: the parent's ancestors, nearest first, up to init (pid 1)
        or kthreadd (pid 2), as far as the cache knows them; for the kinds asked for."""
        if kind not in self.ancestors_for:
            return
        out = []
        cur: Entry | None = parent
        while cur is not None and cur.process.get("pid", 0) > 2 and len(out) < 256:
            cur = self.cache.parent_of(cur)
            if cur is not None:
                out.append(cur.process)
        if out:
            body["ancestors"] = out


def _drop_empty(proc: dict) -> None:
    """protojson leaves out empty strings; so do we."""
    for k in ("cwd", "arguments", "binary"):
        if proc.get(k) == "":
            del proc[k]


NS_NAMES = ("uts", "ipc", "mnt", "pid", "pid_for_children", "net", "time",
            "time_for_children", "cgroup", "user")  # fmt: skip
_host_ns: dict[str, int] | None = None
_cap_names: list[str] | None = None


def host_namespaces() -> dict[str, int]:
    global _host_ns
    if _host_ns is None:
        import os

        _host_ns = {}
        for name in NS_NAMES:
            try:
                _host_ns[name] = os.stat(f"/proc/1/ns/{name}").st_ino
            except OSError:
                _host_ns[name] = 0
    return _host_ns


def ns_block(inums) -> dict:
    host = host_namespaces()
    out = {}
    for name, inum in zip(NS_NAMES, inums, strict=False):
        if inum:
            out[name] = {"inum": inum, "is_host": inum == host.get(name)}
    return out


def _caps(mask: int) -> list[str]:
    global _cap_names
    if _cap_names is None:
        from appliance.api.tetragon import capabilities_pb2

        _cap_names = [capabilities_pb2.CapabilitiesType.Name(i) for i in range(41)]
    return [_cap_names[i] for i in range(min(64, len(_cap_names))) if mask >> i & 1]


def caps_block(permitted: int, effective: int, inheritable: int) -> dict:
    out = {}
    for key, mask in (("permitted", permitted), ("effective", effective),
                      ("inheritable", inheritable)):  # fmt: skip
        names = _caps(mask)
        if names:
            out[key] = names
    return out


def cred_block(m: ExecMsg) -> dict:
    suid, sgid, fsuid, fsgid, securebits, _p, cperm, ceff, cinh, *ns = m.extra
    out = {"uid": m.uid, "gid": m.gid, "euid": m.euid, "egid": m.egid, "suid": suid,
           "sgid": sgid, "fsuid": fsuid, "fsgid": fsgid}  # fmt: skip
    bits = [name for bit, name in ((1, "SecBitNoRoot"), (4, "SecBitNoSetUidFixup"),
                                   (16, "SecBitKeepCaps")) if securebits & bit]  # fmt: skip
    if bits:
        out["securebits"] = bits
    caps = caps_block(cperm, ceff, cinh)
    if caps:
        out["caps"] = caps
    return out
