"""Where a container's cgroup is on this host, and its cgroup id.

The in-kernel policy filter keys on the cgroup id that ``bpf_get_current_cgroup_id()``
returns: the id of the task's cgroup in the unified (v2) hierarchy, which is the inode
number of that cgroup's directory in the cgroup2 file system. On a pure cgroup v2 host the
hierarchy is mounted at ``/sys/fs/cgroup``; on a hybrid v1 host at
``/sys/fs/cgroup/unified``, where runc still places every container.
"""

from __future__ import annotations

import glob
import os
import re

CGROUP2_MAGIC = 0x63677270


def cgroup2_root(mountinfo: str = "/proc/self/mountinfo") -> str:
    """The mount point of the cgroup2 (unified) hierarchy, or "" when none is mounted."""
    try:
        with open(mountinfo) as f:
            for line in f:
                left, _, right = line.partition(" - ")
                if right.split(" ", 1)[0] == "cgroup2":
                    return left.split(" ")[4]
    except OSError:
        pass
    for cand in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        if os.path.isdir(os.path.join(cand, "kubepods")) or os.path.exists(
            os.path.join(cand, "cgroup.controllers")
        ):
            return cand
    return ""


def cgroup_id(path: str) -> int:
    """The cgroup id of a cgroup2 directory (its inode number); 0 when it does not exist."""
    try:
        return os.stat(path).st_ino
    except OSError:
        return 0


def _qos_dirs(qos: str) -> list[str]:
    q = (qos or "").lower()
    if q == "guaranteed":
        return [""]
    if q in ("burstable", "besteffort"):
        return [q]
    return ["besteffort", "burstable", ""]


def pod_container_candidates(root: str, pod_uid: str, container_id: str, qos: str) -> list[str]:
    """The paths kubelet's cgroupfs and systemd drivers give a pod's container."""
    out = []
    under = pod_uid.replace("-", "_")
    for q in _qos_dirs(qos):
        base = os.path.join(root, "kubepods", q) if q else os.path.join(root, "kubepods")
        out.append(os.path.join(base, f"pod{pod_uid}", container_id))
        sl = os.path.join(root, "kubepods.slice")
        if q:
            sl = os.path.join(sl, f"kubepods-{q}.slice", f"kubepods-{q}-pod{under}.slice")
        else:
            sl = os.path.join(sl, f"kubepods-pod{under}.slice")
        for prefix in ("cri-containerd", "crio", "docker"):
            out.append(os.path.join(sl, f"{prefix}-{container_id}.scope"))
    return out


# pod<uid> as cgroupfs writes it (dashes) and as systemd slices do (underscores)
_POD_UID = re.compile(
    r"(?:^|[/-])pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})"
    r"(?:\.slice)?(?=$|[/:])"
)


def pod_uid_from_cgroup(path: str) -> str:
    """The pod uid in a kubelet cgroup path (``pod<uid>`` or ``-pod<uid_underscored>``)."""
    found = _POD_UID.findall(path)
    return found[-1].replace("_", "-") if found else ""


def pod_uid_of_container(container_id: str, root: str | None = None) -> str:
    """The uid of the pod whose cgroup holds a container (id or its first characters)."""
    root = cgroup2_root() if root is None else root
    if not root or not container_id or not re.fullmatch(r"[0-9a-f]+", container_id):
        return ""
    for pattern in (
        "kubepods/*/pod*/{id}*",
        "kubepods/pod*/{id}*",
        "kubepods.slice/*/*-pod*.slice/*-{id}*.scope",
        "kubepods.slice/*-pod*.slice/*-{id}*.scope",
    ):
        for path in glob.glob(os.path.join(root, pattern.format(id=container_id))):
            uid = pod_uid_from_cgroup(path)
            if uid:
                return uid
    return ""


class CgroupResolver:
    """Finds container cgroups under the cgroup2 root, remembering what it found."""

    def __init__(self, root: str | None = None) -> None:
        self.root = cgroup2_root() if root is None else root
        self._known: dict[str, tuple[str, int]] = {}

    def pod_container(self, pod_uid: str, container_id: str, qos: str = "") -> int:
        """The cgroup id of a pod's container; 0 while its cgroup does not exist."""
        if not self.root or not container_id:
            return 0
        hit = self._known.get(container_id)
        if hit is not None:
            if cgroup_id(hit[0]) == hit[1]:
                return hit[1]
            del self._known[container_id]
        for path in pod_container_candidates(self.root, pod_uid, container_id, qos):
            cid = cgroup_id(path)
            if cid:
                self._known[container_id] = (path, cid)
                return cid
        return 0

    def path_id(self, cgroups_path: str) -> int:
        """The cgroup id of a cgroup path as a runtime names it (relative to the root)."""
        if not self.root:
            return 0
        return cgroup_id(os.path.join(self.root, cgroups_path.lstrip("/")))

    def forget(self, container_id: str) -> None:
        self._known.pop(container_id, None)
