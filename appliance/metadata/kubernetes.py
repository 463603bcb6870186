"""Kubernetes pod metadata: the seam for the kubernetes client source (not built yet)."""

from __future__ import annotations

from appliance.metadata.base import ContainerInfo, MetadataSource

NOT_YET = (
    "metadata-source kubernetes is not available in this version: pod metadata from the "
    "Kubernetes API comes in a later release; set metadata-source to docker, cgroup or auto"
)


class KubernetesSource(MetadataSource):
    """Will map containers to pods (node-local pods watched through the kubernetes client)."""

    kind = "kubernetes"

    def __init__(self, *args, **kwargs) -> None:
        raise NotImplementedError(NOT_YET)

    def container(self, container_id: str, cgroup_id: int) -> ContainerInfo | None:
        raise NotImplementedError(NOT_YET)
