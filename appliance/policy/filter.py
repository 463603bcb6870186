"""The policy filter: which cgroups a namespaced or pod-selected policy acts on.

Each policy with a filter (a ``TracingPolicyNamespaced``, a ``podSelector`` or a
``containerSelector``) is compiled with a hash map of cgroup ids, ``policy_filter``, that
every one of its programs looks up first: a process whose cgroup is not in the map leaves
the program after that one lookup. This module keeps those maps in step with the pods of
the node: it fills a policy's map from the pods already known before the policy attaches
(so running pods are covered at once), adds a container's cgroup when its pod appears or
changes, and removes it when the pod goes. Host processes are in no pod, so they never
match a filtered policy.

Labels are matched as Kubernetes does (``matchLabels``, ``matchExpressions`` with In,
NotIn, Exists, DoesNotExist), with the pod's namespace as the extra label
``k8s:io.kubernetes.pod.namespace``, as Tetragon adds it. ``containerSelector`` matches the
container's ``name`` and the ``repo`` of its image.
"""

from __future__ import annotations

import logging
import struct
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from appliance.metadata.cgroupfs import CgroupResolver
from appliance.metadata.pods import PodContainer, PodInfo

log = logging.getLogger("tetragon.policyfilter")

NAMESPACE_LABEL = "k8s:io.kubernetes.pod.namespace"
MAP_NAME = "policy_filter"
MAP_ENTRIES = 32768
_ONE = b"\x01"


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # In | NotIn | Exists | DoesNotExist
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator.lower()
        if op == "in":
            return labels.get(self.key) in self.values
        if op == "notin":
            return self.key not in labels or labels[self.key] not in self.values
        if op == "exists":
            return self.key in labels
        if op == "doesnotexist":
            return self.key not in labels
        return False


@dataclass(frozen=True)
class Selector:
    """A label selector; an empty one selects everything."""

    match_labels: tuple[tuple[str, str], ...] = ()
    requirements: tuple[Requirement, ...] = ()

    @classmethod
    def from_model(cls, sel) -> Selector:
        return cls(
            tuple(sorted(sel.match_labels.items())),
            tuple(Requirement(r.key, r.operator, tuple(r.values)) for r in sel.match_expressions),
        )

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match_labels) and all(
            r.matches(labels) for r in self.requirements
        )


@dataclass(frozen=True)
class FilterSpec:
    """What a filtered policy selects."""

    namespace: str = ""  # "" for a cluster-wide policy
    pods: Selector | None = None
    containers: Selector | None = None

    def matches_pod(self, pod: PodInfo) -> bool:
        if self.namespace and pod.namespace != self.namespace:
            return False
        if self.pods is not None:
            labels = dict(pod.labels)
            labels[NAMESPACE_LABEL] = pod.namespace
            return self.pods.matches(labels)
        return True

    def matches_container(self, c: PodContainer) -> bool:
        if self.containers is None:
            return True
        return self.containers.matches({"name": c.name, "repo": image_repo(c.image)})

    def describe(self) -> str:
        parts = []
        if self.namespace:
            parts.append(f"namespace {self.namespace}")
        if self.pods is not None:
            parts.append("podSelector")
        if self.containers is not None:
            parts.append("containerSelector")
        return ", ".join(parts)


def image_repo(image: str) -> str:
    """``docker.io/library/nginx:1.27`` -> ``docker.io/library/nginx`` (tag, digest off)."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def filter_spec(model) -> FilterSpec | None:
    """The filter a policy model asks for; None for a policy that acts on every process."""
    spec = model.spec
    namespaced = type(model).__name__ == "TracingPolicyNamespaced"
    ns = (getattr(model.metadata, "namespace", "") or "") if namespaced else ""
    if namespaced and not ns:
        ns = "default"
    pods = Selector.from_model(spec.pod_selector) if spec.pod_selector is not None else None
    conts = (
        Selector.from_model(spec.container_selector)
        if spec.container_selector is not None
        else None
    )
    if not (namespaced or pods is not None or conts is not None):
        return None
    return FilterSpec(ns, pods, conts)


def _key(cgroup_id: int) -> bytes:
    return struct.pack("<Q", cgroup_id)


@dataclass
class _Filtered:
    spec: FilterSpec
    map: object  # appliance.bpf.libbpf.Map: update(key, value), delete(key)
    cgroups: dict[int, str] = field(default_factory=dict)  # cgroup id -> pod/container


class PolicyFilter:
    """Keeps every filtered policy's cgroup map in step with the node's pods."""

    def __init__(
        self,
        pods: Callable[[], Iterable[PodInfo]],
        resolver: CgroupResolver | None = None,
    ) -> None:
        self._pods = pods
        self.resolver = resolver or CgroupResolver()
        self._lock = threading.RLock()
        self._policies: dict[int, _Filtered] = {}
        # containers learned before their pod listed them (runtime hooks): uid -> id -> cgroup
        self._extra: dict[str, dict[str, int]] = {}
        self.updates = 0
        self.errors = 0
        log.info("Enabling policy filtering")
        if not self.resolver.root:
            log.warning("no cgroup2 hierarchy is mounted: the policy filter matches nothing")

    # -- policies ----------------------------------------------------------------------
    def add_policy(self, policy_id: int, spec: FilterSpec, bpf_map) -> int:
        """Register a policy's map and fill it from the pods known now; returns the count."""
        f = _Filtered(spec, bpf_map)
        with self._lock:
            self._policies[policy_id] = f
            for pod in self._pods():
                self._sync_pod(f, pod)
        log.info("policy filter %d (%s): %d cgroups", policy_id, spec.describe(), len(f.cgroups))
        return len(f.cgroups)

    def remove_policy(self, policy_id: int) -> None:
        with self._lock:
            self._policies.pop(policy_id, None)

    def cgroups_of(self, policy_id: int) -> dict[int, str]:
        with self._lock:
            f = self._policies.get(policy_id)
            return dict(f.cgroups) if f else {}

    # -- pods --------------------------------------------------------------------------
    def on_pod(self, kind: str, pod: PodInfo) -> None:
        """A pod listener (see appliance.metadata.kubernetes)."""
        with self._lock:
            if kind == "DELETED":
                self._extra.pop(pod.uid, None)
                for f in self._policies.values():
                    self._drop_pod(f, pod)
                return
            for f in self._policies.values():
                self._sync_pod(f, pod)

    def add_container(self, pod: PodInfo, container: PodContainer, cgroup_id: int) -> int:
        """A container about to start (runtime hook): into every matching policy now.

        Returns the number of policies the container was added to.
        """
        n = 0
        with self._lock:
            self._extra.setdefault(pod.uid, {})[container.id] = cgroup_id
            for f in self._policies.values():
                if f.spec.matches_pod(pod) and f.spec.matches_container(container):
                    if self._put(f, cgroup_id, f"{pod.key}/{container.name}"):
                        n += 1
        return n

    def _cgroups(self, pod: PodInfo) -> dict[int, PodContainer]:
        out = {}
        extra = self._extra.get(pod.uid, {})
        for c in pod.containers:
            if not c.id:
                continue
            cg = extra.get(c.id) or self.resolver.pod_container(pod.uid, c.id, pod.qos_class)
            if cg:
                out[cg] = c
        return out

    def _sync_pod(self, f: _Filtered, pod: PodInfo) -> None:
        want: dict[int, str] = {}
        if f.spec.matches_pod(pod):
            for cg, c in self._cgroups(pod).items():
                if f.spec.matches_container(c):
                    want[cg] = f"{pod.key}/{c.name}"
        for cg, who in list(f.cgroups.items()):
            if who.startswith(pod.key + "/") and cg not in want:
                self._del(f, cg)
        for cg, who in want.items():
            self._put(f, cg, who)

    def _drop_pod(self, f: _Filtered, pod: PodInfo) -> None:
        for cg, who in list(f.cgroups.items()):
            if who.startswith(pod.key + "/"):
                self._del(f, cg)

    def _put(self, f: _Filtered, cg: int, who: str) -> bool:
        if f.cgroups.get(cg) == who:
            return False
        try:
            f.map.update(_key(cg), _ONE)
        except Exception as e:  # map full or gone: say so, keep the others
            self.errors += 1
            log.warning("policy filter: cannot add cgroup %d (%s): %s", cg, who, e)
            return False
        f.cgroups[cg] = who
        self.updates += 1
        return True

    def _del(self, f: _Filtered, cg: int) -> None:
        who = f.cgroups.pop(cg, "")
        try:
            f.map.delete(_key(cg))
            self.updates += 1
        except Exception as e:
            log.debug("policy filter: cgroup %d (%s) already gone: %s", cg, who, e)


def pod_hook_sink(source, pfilter: PolicyFilter | None) -> Callable[[object], None]:
    """What the agent does on a runtime hook's CreateContainer under Kubernetes.

    ``start`` is an ``appliance.rthooks.request.ContainerStart``. The pod is found (or
    awaited for a moment) by its uid, the container is indexed so its first events carry
    the pod, and its cgroup goes into every matching policy's map before the hook is
    answered: the runtime starts the container's first process only after that.
    """

    def sink(start) -> None:
        if not start.pod_uid:
            return
        pod = source.container_starting(
            start.pod_uid, start.container_id, start.container_name, start.image
        )
        if pod is None:
            log.warning(
                "runtime hook: pod %s/%s (uid %s) is not known yet; its policies apply "
                "once the API server reports it",
                start.pod_namespace, start.pod_name, start.pod_uid,
            )  # fmt: skip
            return
        if pfilter is None:
            return
        # the unified hierarchy's id, the one bpf_get_current_cgroup_id() returns
        cg = pfilter.resolver.path_id(start.cgroups_path) or start.cgroup_id
        c = next((c for c in pod.containers if c.id == start.container_id), None)
        if c is not None and cg:
            n = pfilter.add_container(pod, c, cg)
            log.debug("runtime hook: %s/%s in %d filtered policies", pod.key, c.name, n)

    return sink
