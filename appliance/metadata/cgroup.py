"""Container ids from cgroup names only: what every mode knows without asking anyone."""

from __future__ import annotations

from appliance.metadata.base import ContainerInfo, MetadataSource


class CgroupSource(MetadataSource):
    """Knows a container's id (taken from its cgroup name) and nothing else.

    The ``docker`` field of the events is filled from the cgroup name in every mode; this
    source adds nothing to it, so processes get no ``pod`` block.
    """

    kind = "cgroup"

    def container(self, container_id: str, cgroup_id: int) -> ContainerInfo | None:
        if not container_id:
            return None
        return ContainerInfo(id=container_id)
