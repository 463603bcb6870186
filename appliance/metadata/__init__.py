"""Container metadata: which container (and, later, which pod) a process runs in.

A :class:`MetadataSource` answers ``container(container_id, cgroup_id)`` from a cache.
Sources: :class:`DockerSource` (Docker Engine API: name, image, labels, start time, kept fresh by
the engine's events), :class:`CgroupSource` (the id from the cgroup name, nothing more) and
the :class:`KubernetesSource` seam. :func:`open_source` picks one from the
``metadata-source`` setting (``auto`` detects) and logs why.
"""

from __future__ import annotations

from appliance.metadata.base import ContainerInfo, MetadataSource
from appliance.metadata.cgroup import CgroupSource
from appliance.metadata.docker import DockerSource
from appliance.metadata.kubernetes import KubernetesSource
from appliance.metadata.select import Selection, create_source, detect, open_source

__all__ = [
    "CgroupSource",
    "ContainerInfo",
    "DockerSource",
    "KubernetesSource",
    "MetadataSource",
    "Selection",
    "create_source",
    "detect",
    "open_source",
    "pod_block",
    "read_ns_pid",
    "with_pod",
]


def read_ns_pid(procfs: str, pid: int) -> int | None:
    """The pid of ``pid`` in its own (innermost) pid namespace, from procfs."""
    try:
        with open(f"{procfs}/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"NSpid:"):
                    return int(line.split()[-1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def pod_block(
    source: MetadataSource | None,
    container_id: str,
    cgroup_id: int,
    pid: int,
    procfs: str = "/proc",
    ns_pid: int | None = None,
    start_time: str = "",
) -> dict | None:
    """The ``process.pod`` block for a process in container ``container_id``, if known.

    ``ns_pid`` is the pid in the container's pid namespace as the kernel reported it (read
    from procfs when not given). The container's first process (``ns_pid`` 1) runs before
    the engine reports the start: its ``start_time`` stands for the container's until then.
    """
    if source is None or not container_id:
        return None
    info = source.container(container_id, cgroup_id)
    if info is None or not info.has_details():
        return None
    if not ns_pid:
        ns_pid = 1 if info.pid and pid == info.pid else read_ns_pid(procfs, pid)
    if ns_pid == 1 and start_time and not info.start_time:
        info = source.first_process_started(info, start_time)
    return info.pod_block(ns_pid)


def with_pod(proc: dict, pod: dict) -> dict:
    """A copy of a process block with ``pod`` set, in Tetragon's field order (before docker)."""
    out: dict = {}
    for k, v in proc.items():
        if k == "docker":
            out["pod"] = pod
        if k != "pod":
            out[k] = v
    out.setdefault("pod", pod)
    return out
