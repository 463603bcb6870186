"""What every metadata source answers: which container a process runs in."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from appliance.events.common import CONTAINER_ID_LEN


@dataclass(frozen=True, slots=True)
class PodRef:
    """The pod a container belongs to, as Tetragon's ``Pod`` message carries it."""

    namespace: str
    name: str
    uid: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    workload: str = ""
    workload_kind: str = ""


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    """A container as a metadata source knows it.

    ``id`` is the full id when the source knows it (64 hex characters for Docker), else
    what the cgroup name holds. ``pid`` is the host pid of the container's first process
    (0 when unknown); ``start_time`` is RFC 3339 in UTC with nanoseconds, like every
    Tetragon timestamp. ``runtime`` prefixes the id in events as Tetragon writes a
    container id (``docker://<id>``, ``containerd://<id>``).
    """

    id: str
    name: str = ""
    image_name: str = ""
    image_id: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    start_time: str = ""
    pid: int = 0
    #: the runtime's name as Kubernetes prefixes ids with it (``containerd``, ``cri-o``...)
    runtime: str = ""
    pod: PodRef | None = None

    @property
    def short_id(self) -> str:
        return self.id[:CONTAINER_ID_LEN]

    def has_details(self) -> bool:
        """More than the id: worth a ``pod`` block in the events."""
        return bool(self.name or self.image_name or self.image_id or self.pod)

    def has_started(self) -> bool:
        """Whether the source saw the container running (start time and first pid known)."""
        return bool(self.start_time and self.pid)

    def container_block(self, ns_pid: int | None = None, start_hint: str = "") -> dict:
        """Tetragon's ``Container`` message as protojson writes it (empty fields left out).

        ``ns_pid`` is the process's pid inside the container's pid namespace, when known.
        ``start_hint`` stands for the start time while the source does not know it yet
        (the container's first process runs before the engine reports the start).
        """
        out: dict = {"id": f"{self.runtime}://{self.id}" if self.runtime else self.id}
        if self.name:
            out["name"] = self.name
        image = {}
        if self.image_id:
            image["id"] = self.image_id
        if self.image_name:
            image["name"] = self.image_name
        if image:
            out["image"] = image
        if self.start_time or start_hint:
            out["start_time"] = self.start_time or start_hint
        if ns_pid:
            out["pid"] = ns_pid
        return out

    def pod_block(self, ns_pid: int | None = None, start_hint: str = "") -> dict:
        """The ``process.pod`` block, in Tetragon's field order.

        For a plain container (no pod) the pod's ``namespace`` and ``name`` stay empty (so
        protojson leaves them out) and only ``container`` is set.
        """
        pod = self.pod
        if pod is None:
            return {"container": self.container_block(ns_pid, start_hint)}
        out: dict = {"namespace": pod.namespace, "name": pod.name}
        if pod.uid:
            out["uid"] = pod.uid
        out["container"] = self.container_block(ns_pid, start_hint)
        if pod.labels:
            out["pod_labels"] = dict(pod.labels)
        if pod.workload:
            out["workload"] = pod.workload
        if pod.workload_kind:
            out["workload_kind"] = pod.workload_kind
        return out


class MetadataSource(ABC):
    """Maps a process's container to what is known about it.

    ``container`` is called on the event loop for each exec: it must return at once,
    from a cache. A source that fetches data elsewhere does so in the background; a miss
    returns ``None`` and may schedule a refresh so that later lookups find it.
    """

    #: the ``metadata-source`` value that selects this source
    kind: str = ""

    def start(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Begin background work (initial listing, following events)."""

    @abstractmethod
    def container(self, container_id: str, cgroup_id: int) -> ContainerInfo | None:
        """The container with this id (full, or the first 31 characters), or None."""

    def first_process_started(self, info: ContainerInfo, start_time: str) -> ContainerInfo:
        """The container's first process started at ``start_time``, before the source
        knew the container's start: that time stands for it (a source may keep it for the
        container's next processes, until it learns the real one)."""
        return replace(info, start_time=start_time)

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Stop background work and release connections."""

    def describe(self) -> str:
        return self.kind
