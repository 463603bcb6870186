"""Pods as the agent keeps them: what Tetragon's ``pod`` block and the policy filter need.

A pod comes from the Kubernetes API as JSON (camelCase keys, as the API server writes them).
:func:`pod_from_api` keeps what matters for events and filtering; :class:`PodIndex` finds a
pod and its container from a container id (the full id, or the first 31 characters the
cgroup name gives), and keeps recently deleted pods so that late events of a pod that is
gone still get their ``pod`` block.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from appliance.events.common import CONTAINER_ID_LEN
from appliance.metadata.base import ContainerInfo, PodRef

#: the runtimes whose ids Kubernetes reports as ``<runtime>://<id>``
RUNTIME_PREFIXES = ("containerd", "cri-o", "docker")

# a ReplicaSet made by a Deployment: <deployment>-<pod-template-hash>
_HASH_SUFFIX = re.compile(r"^(?P<name>.+)-[a-z0-9]{1,10}$")
# a Job made by a CronJob: <cronjob>-<scheduled time in minutes>
_CRON_SUFFIX = re.compile(r"^(?P<name>.+)-\d{8,}$")


@dataclass(frozen=True, slots=True)
class PodContainer:
    """One container of a pod, from the pod's status."""

    id: str  # the bare id, without the runtime prefix ("" until the runtime created it)
    runtime: str  # containerd | cri-o | docker | ""
    name: str
    image: str
    image_id: str
    start_time: str = ""


@dataclass(frozen=True, slots=True)
class PodInfo:
    """A pod of this node."""

    uid: str
    namespace: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    workload: str = ""
    workload_kind: str = ""
    qos_class: str = ""
    containers: tuple[PodContainer, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def ref(self) -> PodRef:
        return PodRef(
            self.namespace, self.name, self.uid, self.labels, self.workload, self.workload_kind
        )

    def container_info(self, c: PodContainer) -> ContainerInfo:
        return ContainerInfo(
            id=c.id,
            name=c.name,
            image_name=c.image,
            image_id=c.image_id,
            start_time=c.start_time,
            runtime=c.runtime,
            pod=self.ref(),
        )


def split_container_id(text: str) -> tuple[str, str]:
    """``containerd://abc`` -> (``containerd``, ``abc``); a bare id has no runtime."""
    runtime, sep, bare = text.partition("://")
    if not sep:
        return "", text
    return runtime, bare


def workload_of(name: str, labels: Mapping[str, str], owners: list[Mapping]) -> tuple[str, str]:
    """The workload (name, kind) that owns a pod, as Tetragon reports it.

    A ReplicaSet whose name ends with the pod-template hash belongs to a Deployment; a Job
    whose name ends with a schedule timestamp belongs to a CronJob; any other controller is
    reported as itself; a pod without an owner is its own workload (kind ``Pod``).
    """
    owner = next((o for o in owners if o.get("controller")), owners[0] if owners else None)
    if owner is None:
        return name, "Pod"
    kind, oname = owner.get("kind", ""), owner.get("name", "")
    if kind == "ReplicaSet":
        h = labels.get("pod-template-hash", "")
        if h and oname.endswith("-" + h):
            return oname[: -len(h) - 1], "Deployment"
        m = _HASH_SUFFIX.match(oname)
        if m and h:
            return m.group("name"), "Deployment"
    if kind == "Job":
        m = _CRON_SUFFIX.match(oname)
        if m:
            return m.group("name"), "CronJob"
    return oname, kind


def pod_from_api(obj: Mapping) -> PodInfo:
    """A :class:`PodInfo` from a pod as the API server sends it (camelCase JSON)."""
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    labels = dict(meta.get("labels") or {})
    name = meta.get("name", "")
    workload, kind = workload_of(name, labels, list(meta.get("ownerReferences") or []))
    containers = []
    for key in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
        for cs in status.get(key) or []:
            runtime, bare = split_container_id(cs.get("containerID") or "")
            state = cs.get("state") or {}
            started = (state.get("running") or {}).get("startedAt") or (
                state.get("terminated") or {}
            ).get("startedAt")
            containers.append(
                PodContainer(
                    id=bare,
                    runtime=runtime,
                    name=cs.get("name", ""),
                    image=cs.get("image", ""),
                    image_id=cs.get("imageID", ""),
                    start_time=_rfc3339(started),
                )
            )
    return PodInfo(
        uid=meta.get("uid", ""),
        namespace=meta.get("namespace", ""),
        name=name,
        labels=labels,
        workload=workload,
        workload_kind=kind,
        qos_class=status.get("qosClass", ""),
        containers=tuple(containers),
    )


def _rfc3339(value) -> str:
    """Timestamps as Tetragon prints them (``2023-10-06T21:52:41Z``)."""
    if not value:
        return ""
    if hasattr(value, "strftime"):  # a datetime from the client's models
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


class PodIndex:
    """Pods by uid and containers by id, with the last ``keep_deleted`` deleted pods.

    Safe to use from the watch thread and the event loop at once.
    """

    def __init__(self, keep_deleted: int = 1024) -> None:
        self._lock = threading.Lock()
        self._pods: dict[str, PodInfo] = {}
        self._deleted: OrderedDict[str, PodInfo] = OrderedDict()
        self._by_short: dict[str, tuple[PodInfo, PodContainer]] = {}
        self.keep_deleted = keep_deleted

    def upsert(self, pod: PodInfo) -> PodInfo | None:
        """Add or update a pod; returns the previous version."""
        with self._lock:
            old = self._pods.get(pod.uid)
            self._pods[pod.uid] = pod
            self._deleted.pop(pod.uid, None)
            if old is not None:
                self._unindex(old)
            self._index(pod)
            return old

    def delete(self, uid: str) -> PodInfo | None:
        """Forget a pod, keeping it among the recently deleted ones for late events."""
        with self._lock:
            pod = self._pods.pop(uid, None)
            if pod is None:
                return None
            self._deleted[uid] = pod
            while len(self._deleted) > self.keep_deleted:
                _, gone = self._deleted.popitem(last=False)
                self._unindex(gone)
            return pod

    def replace_all(self, pods: list[PodInfo]) -> tuple[list[PodInfo], list[PodInfo]]:
        """A fresh listing: returns (added or changed, deleted) against what was known."""
        fresh = {p.uid: p for p in pods}
        changed, gone = [], []
        for uid in [u for u in list(self._pods) if u not in fresh]:
            pod = self.delete(uid)
            if pod is not None:
                gone.append(pod)
        for pod in pods:
            if self.upsert(pod) != pod:
                changed.append(pod)
        return changed, gone

    def _index(self, pod: PodInfo) -> None:
        for c in pod.containers:
            if c.id:
                self._by_short[c.id[:CONTAINER_ID_LEN]] = (pod, c)

    def _unindex(self, pod: PodInfo) -> None:
        for c in pod.containers:
            hit = self._by_short.get(c.id[:CONTAINER_ID_LEN]) if c.id else None
            if hit is not None and hit[0] is pod:
                del self._by_short[c.id[:CONTAINER_ID_LEN]]

    def find(self, container_id: str) -> tuple[PodInfo, PodContainer] | None:
        """The pod and container whose id starts with ``container_id`` (31 chars or more)."""
        if not container_id:
            return None
        with self._lock:
            hit = self._by_short.get(container_id[:CONTAINER_ID_LEN])
        if hit is None or not hit[1].id.startswith(container_id):
            return None
        return hit

    def get(self, uid: str) -> PodInfo | None:
        with self._lock:
            return self._pods.get(uid) or self._deleted.get(uid)

    def pods(self) -> list[PodInfo]:
        """The live pods (not the deleted ones)."""
        with self._lock:
            return list(self._pods.values())

    def __len__(self) -> int:
        return len(self._pods)
