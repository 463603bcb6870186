"""Pod metadata from the Kubernetes API: the pods of this node, watched live.

The source lists the pods whose ``spec.nodeName`` is this node, then follows the watch from
the listing's resource version. When the watch ends or fails (API server restart, expired
resource version) it lists again, with a growing pause between failed attempts, so a
returning API server is picked up without losing or duplicating a pod. Containers are
found by id (``containerd://``, ``cri-o://`` and ``docker://`` ids alike; the cgroup name
gives the first 31 characters), and deleted pods are kept for late events.

Listeners (the policy filter, the event cache) hear of every added, changed and deleted pod
from the watch thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from appliance.errors import KubernetesError
from appliance.metadata.base import ContainerInfo, MetadataSource
from appliance.metadata.pods import PodContainer, PodIndex, PodInfo, pod_from_api

log = logging.getLogger("tetragon.metadata.kubernetes")

PodListener = Callable[[str, PodInfo], None]  # ("ADDED" | "MODIFIED" | "DELETED", pod)


def api_client(kubeconfig: str = ""):
    """A kubernetes ApiClient: from a kubeconfig file, else in-cluster, else ~/.kube/config."""
    from kubernetes import client, config

    try:
        if kubeconfig:
            return config.new_client_from_config(config_file=kubeconfig)
        try:
            config.load_incluster_config()
            return client.ApiClient()
        except config.ConfigException:
            return config.new_client_from_config()
    except Exception as e:  # ConfigException, a missing or unreadable file
        where = kubeconfig or "the in-cluster service account or ~/.kube/config"
        raise KubernetesError(
            f"cannot configure the Kubernetes client from {where}: {e}; set "
            "--k8s-kubeconfig-path or run in a pod with a service account"
        ) from None


class KubernetesSource(MetadataSource):
    """Maps containers to the pods of this node."""

    kind = "kubernetes"

    def __init__(
        self,
        node_name: str,
        kubeconfig: str = "",
        keep_deleted: int = 1024,
        retry_max_s: float = 30.0,
    ) -> None:
        if not node_name:
            raise KubernetesError("the Kubernetes metadata source needs the node name (NODE_NAME)")
        self.node_name = node_name
        self.kubeconfig = kubeconfig
        self.index = PodIndex(keep_deleted)
        self.retry_max_s = retry_max_s
        self.listeners: list[PodListener] = []
        self.synced = threading.Event()  # set after the first complete listing
        self.lists = 0  # complete listings (1 at start, +1 after every lost watch)
        self.watch_errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._api = None
        self._watch = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self, wait_s: float = 5.0) -> None:
        from kubernetes import client

        self._api = client.CoreV1Api(api_client(self.kubeconfig))
        self._thread = threading.Thread(target=self._run, name="k8s-pods", daemon=True)
        self._thread.start()
        if not self.synced.wait(wait_s):
            log.warning(
                "pods of node %s not listed within %.0f s; events wait for their pod "
                "(event cache) until the API answers",
                self.node_name,
                wait_s,
            )

    def close(self) -> None:
        self._stop.set()
        w = self._watch
        if w is not None:
            w.stop()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def describe(self) -> str:
        return f"kubernetes (node {self.node_name}, {len(self.index)} pods)"

    # -- lookups -----------------------------------------------------------------------
    def container(self, container_id: str, cgroup_id: int) -> ContainerInfo | None:
        hit = self.index.find(container_id)
        if hit is None:
            return None
        pod, c = hit
        return pod.container_info(c)

    def pod_by_cgroup(self, container_id: str) -> ContainerInfo | None:
        """The pod of a container its status does not list (yet), from the cgroup path.

        The kubelet names a pod's cgroup after the pod's uid, so a container whose id the
        API has not reported (a pod sandbox, a container started a moment ago) still shows
        which pod it belongs to: the answer has the pod and the container's id only.
        """
        from appliance.metadata.cgroupfs import pod_uid_of_container

        uid = pod_uid_of_container(container_id)
        pod = self.index.get(uid) if uid else None
        if pod is None:
            return None
        runtime = next((c.runtime for c in pod.containers if c.runtime), "")
        return ContainerInfo(id=container_id, runtime=runtime, pod=pod.ref())

    def pods(self) -> list[PodInfo]:
        return self.index.pods()

    def await_pod(self, uid: str, timeout: float) -> PodInfo | None:
        """The pod with this uid, waiting up to ``timeout`` seconds for the watch to bring it."""
        end = time.monotonic() + timeout
        while True:
            pod = self.index.get(uid)
            if pod is not None or time.monotonic() >= end:
                return pod
            time.sleep(0.01)

    def container_starting(
        self, pod_uid: str, container_id: str, name: str, image: str
    ) -> PodInfo | None:
        """A runtime hook announced a container of a pod: index it before the kubelet
        reports it, so its first events carry the pod. Returns the pod (None if unknown)."""
        pod = self.await_pod(pod_uid, 2.0)
        if pod is None or not container_id:
            return pod
        if any(c.id == container_id for c in pod.containers):
            return pod
        runtime = next((c.runtime for c in pod.containers if c.runtime), "containerd")
        extra = PodContainer(container_id, runtime, name, image, "")
        others = tuple(c for c in pod.containers if c.name != name or c.id)
        pod = replace(pod, containers=others + (extra,))
        self.index.upsert(pod)
        return pod

    def add_listener(self, fn: PodListener) -> None:
        self.listeners.append(fn)

    # -- the watch thread --------------------------------------------------------------
    def _notify(self, kind: str, pod: PodInfo) -> None:
        for fn in list(self.listeners):
            try:
                fn(kind, pod)
            except Exception:  # a listener's bug must not stop the watch
                log.exception("pod listener failed on %s %s", kind, pod.key)

    def _list(self) -> str:
        resp = self._api.list_pod_for_all_namespaces(
            field_selector=f"spec.nodeName={self.node_name}", _preload_content=False
        )
        import orjson

        body = orjson.loads(resp.data)
        pods = [pod_from_api(o) for o in body.get("items") or []]
        changed, gone = self.index.replace_all(pods)
        for pod in gone:
            self._notify("DELETED", pod)
        for pod in changed:
            self._notify("ADDED", pod)
        self.lists += 1
        if not self.synced.is_set():
            log.info("pods of node %s listed: %d", self.node_name, len(pods))
        self.synced.set()
        return (body.get("metadata") or {}).get("resourceVersion", "")

    def _follow(self, rv: str) -> str:
        """Apply watch events from ``rv`` on; returns the last resource version seen."""
        from kubernetes import watch

        self._watch = w = watch.Watch()
        try:
            for ev in w.stream(
                self._api.list_pod_for_all_namespaces,
                field_selector=f"spec.nodeName={self.node_name}",
                resource_version=rv,
                timeout_seconds=300,
                allow_watch_bookmarks=True,
                deserialize=False,
            ):
                if self._stop.is_set():
                    break
                kind = ev.get("type")
                obj = ev.get("object") or {}
                if kind == "ERROR":
                    raise _Relist(str(obj.get("message", obj)))
                rv = (obj.get("metadata") or {}).get("resourceVersion", rv)
                if kind not in ("ADDED", "MODIFIED", "DELETED"):
                    continue  # BOOKMARK: only the resource version moves on
                pod = pod_from_api(obj)
                if kind == "DELETED":
                    gone = self.index.delete(pod.uid)
                    self._notify("DELETED", gone or pod)
                elif self.index.upsert(pod) != pod:
                    self._notify(kind, pod)
        except KeyError as e:  # the client's handling of an ERROR event without its body
            raise _Relist(f"watch error event ({e})") from None
        return rv

    def _run(self) -> None:
        pause = 0.5
        while not self._stop.is_set():
            try:
                rv = self._list()
                pause = 0.5
                while not self._stop.is_set():
                    rv = self._follow(rv)
            except _Relist as e:
                log.info("pod watch restarts from a new listing: %s", e)
                continue
            except Exception as e:
                if self._stop.is_set():
                    return
                self.watch_errors += 1
                log.warning(
                    "Kubernetes API unavailable (%s); listing the pods of %s again in %.1f s",
                    _short(e),
                    self.node_name,
                    pause,
                )
                self._stop.wait(pause)
                pause = min(pause * 2, self.retry_max_s)


class _Relist(Exception):
    pass


def _short(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:300]
