"""Containers learned from runtime hooks, consulted before the configured metadata source.

A podman or runc container has no engine the agent can ask; its hook tells the agent the
name and image before the first process runs. :class:`HookRegistry` keeps those (bounded),
and :class:`HookAwareSource` answers from it first, then from the source it wraps.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from appliance.events.common import CONTAINER_ID_LEN
from appliance.metadata.base import ContainerInfo, MetadataSource

MAX_CONTAINERS = 4096


class HookRegistry:
    """container id (first 31 characters) -> ContainerInfo, oldest dropped past a bound."""

    def __init__(self, limit: int = MAX_CONTAINERS):
        self._limit = limit
        self._items: OrderedDict[str, ContainerInfo] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, info: ContainerInfo) -> None:
        key = info.id[:CONTAINER_ID_LEN]
        with self._lock:
            self._items[key] = info
            self._items.move_to_end(key)
            while len(self._items) > self._limit:
                self._items.popitem(last=False)

    def get(self, container_id: str) -> ContainerInfo | None:
        with self._lock:
            return self._items.get(container_id[:CONTAINER_ID_LEN])

    def __len__(self) -> int:
        return len(self._items)


class HookAwareSource(MetadataSource):
    """The hook registry first, then ``inner`` (which may be None)."""

    def __init__(self, registry: HookRegistry, inner: MetadataSource | None):
        self.registry = registry
        self.inner = inner
        self.kind = inner.kind if inner is not None else "hooks"

    def start(self) -> None:
        if self.inner is not None:
            self.inner.start()

    def container(self, container_id: str, cgroup_id: int) -> ContainerInfo | None:
        info = self.registry.get(container_id) if container_id else None
        if info is not None:
            return info
        return self.inner.container(container_id, cgroup_id) if self.inner else None

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()

    def describe(self) -> str:
        return f"{self.inner.describe() if self.inner else 'none'} + runtime hooks"


def registry_sink(registry: HookRegistry):
    """The default runtime-hook sink outside Kubernetes: remember the container's name and
    image so its processes carry ``pod.container`` from their first exec."""

    def sink(start) -> None:  # start: appliance.rthooks.request.ContainerStart
        if start.container_id:
            registry.add(
                ContainerInfo(
                    id=start.container_id,
                    name=start.container_name,
                    image_name=start.image,
                    labels=dict(start.annotations),
                )
            )

    return sink
