"""What every metadata source answers: which container a process runs in."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field

from appliance.events.common import CONTAINER_ID_LEN


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    """A container as a metadata source knows it.

    ``id`` is the full id when the source knows it (64 hex characters for Docker), else
    what the cgroup name holds. ``pid`` is the host pid of the container's first process
    (0 when unknown); ``start_time`` is RFC 3339 in UTC with nanoseconds, like every
    Tetragon timestamp.
    """

    id: str
    name: str = ""
    image_name: str = ""
    image_id: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    start_time: str = ""
    pid: int = 0

    @property
    def short_id(self) -> str:
        return self.id[:CONTAINER_ID_LEN]

    def has_details(self) -> bool:
        """More than the id: worth a ``pod`` block in the events."""
        return bool(self.name or self.image_name or self.image_id)

    def container_block(self, ns_pid: int | None = None) -> dict:
        """Tetragon's ``Container`` message as protojson writes it (empty fields left out).

        ``ns_pid`` is the process's pid inside the container's pid namespace, when known.
        """
        out: dict = {"id": self.id}
        if self.name:
            out["name"] = self.name
        image = {}
        if self.image_id:
            image["id"] = self.image_id
        if self.image_name:
            image["name"] = self.image_name
        if image:
            out["image"] = image
        if self.start_time:
            out["start_time"] = self.start_time
        if ns_pid:
            out["pid"] = ns_pid
        return out

    def pod_block(self, ns_pid: int | None = None) -> dict:
        """The ``process.pod`` block for a container outside Kubernetes.

        Tetragon fills ``pod`` only under Kubernetes; for a plain container the pod's
        ``namespace`` and ``name`` stay empty (so protojson leaves them out) and only
        ``container`` is set.
        """
        return {"container": self.container_block(ns_pid)}


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

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Stop background work and release connections."""

    def describe(self) -> str:
        return self.kind
