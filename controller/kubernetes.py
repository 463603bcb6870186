"""TracingPolicy resources: the CRDs registered at start, the objects applied live.

At start the controller creates or updates the ``TracingPolicy`` and
``TracingPolicyNamespaced`` CustomResourceDefinitions (when its service account may; when
it may not, it says so and goes on with CRDs installed by the manifests), logging the lines
Tetragon's operator logs. It then lists and watches both kinds and applies each object to
the agent: a new object is added, a changed ``spec`` replaces the loaded policy (the agent
attaches the new version before it detaches the old one), a deleted object is deleted. The
same name in two namespaces is two policies. A policy the agent refuses is reported as a
Kubernetes Event on the object and in the log; the last good version keeps running. When
the API server goes away the watch is resumed from a fresh listing, which is reconciled
with what was applied: nothing is lost and nothing applied twice.
"""

from __future__ import annotations

import datetime
import glob
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

import yaml

from appliance.errors import AgentRefused, AgentUnavailable

log = logging.getLogger("tetragon.controller.k8s")

GROUP, VERSION = "cilium.io", "v1alpha1"
KINDS = {  # kind -> (plural, namespaced)
    "TracingPolicy": ("tracingpolicies", False),
    "TracingPolicyNamespaced": ("tracingpoliciesnamespaced", True),
}
CRD_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "appliance", "k8s", "crds")

Key = tuple[str, str, str]  # (kind, namespace, name)


def crd_documents(directory: str = CRD_DIR) -> list[dict]:
    """The CRDs the appliance ships, one definition for the manifests and the controller."""
    out = []
    for path in sorted(glob.glob(os.path.join(directory, "*.yaml"))):
        with open(path) as f:
            out.extend(d for d in yaml.safe_load_all(f) if d)
    return out


def ensure_crds(api_client, directory: str = CRD_DIR) -> bool:
    """Create or update the CRDs; False when the API refused (the log says why)."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    ext = client.ApiextensionsV1Api(api_client)
    ok = True
    for doc in crd_documents(directory):
        name = doc["metadata"]["name"]
        label = f"{doc['spec']['names']['kind']}/{VERSION}"
        try:
            cur = ext.read_custom_resource_definition(name)
        except ApiException as e:
            if e.status == 404:
                cur = None
            else:
                ok = False
                log.warning(
                    "cannot read CRD %s (%s %s): give the controller's service account "
                    "get/create/update on customresourcedefinitions, or install the CRDs "
                    "with the manifests",
                    name,
                    e.status,
                    e.reason,
                )
                continue
        try:
            if cur is None:
                log.info("Creating CRD (CustomResourceDefinition)... name=%s", label)
                ext.create_custom_resource_definition(doc)
            elif _spec_differs(api_client, cur, doc):
                log.info("Updating CRD (CustomResourceDefinition)... name=%s", label)
                doc = dict(doc, metadata=dict(doc["metadata"]))
                doc["metadata"]["resourceVersion"] = cur.metadata.resource_version
                ext.replace_custom_resource_definition(name, doc)
            log.info("CRD (CustomResourceDefinition) is installed and up-to-date name=%s", label)
        except ApiException as e:
            ok = False
            log.warning(
                "cannot create or update CRD %s (%s %s): give the controller's service "
                "account create/update on customresourcedefinitions, or install the CRDs "
                "with the manifests (kubectl apply -k install/kubernetes)",
                name,
                e.status,
                e.reason,
            )
    return ok


def _spec_differs(api_client, cur, doc: dict) -> bool:
    have = api_client.sanitize_for_serialization(cur).get("spec", {})
    want = doc["spec"]
    return have.get("names") != {**have.get("names", {}), **want["names"]} or [
        v.get("name") for v in have.get("versions", [])
    ] != [v["name"] for v in want["versions"]]


def policy_yaml(obj: dict) -> str:
    """The policy document the agent loads for a resource (its namespace included)."""
    meta = obj.get("metadata") or {}
    m = {"name": meta.get("name", "")}
    if meta.get("namespace"):
        m["namespace"] = meta["namespace"]
    doc = {
        "apiVersion": obj.get("apiVersion", f"{GROUP}/{VERSION}"),
        "kind": obj.get("kind", ""),
        "metadata": m,
        "spec": obj.get("spec") or {},
    }
    return yaml.safe_dump(doc, sort_keys=False)


@dataclass
class Applied:
    generation: int
    uid: str
    ok: bool


class PolicyResources:
    """Keeps the agent's policies in step with the TracingPolicy objects of the cluster."""

    def __init__(
        self,
        api_client,
        agent: Callable[[], object],
        on_count: Callable[[str], None] | None = None,
        component: str = "tetragon-controller",
    ) -> None:
        from kubernetes import client

        self.api_client = api_client
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        self.agent = agent  # returns the AgentClient
        self.on_count = on_count or (lambda kind: None)
        self.component = component
        self.applied: dict[Key, Applied] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.synced = threading.Event()
        self.pending: set[Key] = set()  # refused by an unavailable agent: retried

    # -- applying ------------------------------------------------------------------------
    def apply(self, kind: str, obj: dict) -> None:
        meta = obj.get("metadata") or {}
        key = (kind, meta.get("namespace", "") or "", meta.get("name", ""))
        gen = int(meta.get("generation") or 0)
        with self._lock:
            prev = self.applied.get(key)
            if prev is not None and prev.generation == gen and prev.uid == meta.get("uid"):
                return  # a status or label change: the policy is the same
            text = policy_yaml(obj)
            who = _describe(key)
            try:
                if prev is None:
                    try:
                        self.agent().add_policy(text)
                    except AgentRefused as e:
                        if "already exists" not in str(e):
                            raise
                        self.agent().replace_policy(text, source=who)
                    log.info("%s added", who)
                    self.on_count("k8s_policy_add")
                else:
                    self.agent().replace_policy(text, source=who)
                    log.info("%s updated (generation %d)", who, gen)
                    self.on_count("k8s_policy_replace")
            except AgentUnavailable as e:
                log.warning("%s not applied yet, the agent does not answer: %s", who, e)
                self.pending.add(key)
                return
            except AgentRefused as e:
                self.applied[key] = Applied(gen, meta.get("uid", ""), False)
                self.pending.discard(key)
                self.on_count("k8s_policy_rejected")
                msg = str(e)
                keeps = " the last good version keeps running." if prev and prev.ok else ""
                log.error("%s refused by the agent: %s%s", who, msg, keeps)
                self.event(obj, kind, "PolicyRejected", f"refused by the agent: {msg}{keeps}")
                return
            self.pending.discard(key)
            self.applied[key] = Applied(gen, meta.get("uid", ""), True)

    def remove(self, kind: str, namespace: str, name: str) -> None:
        key = (kind, namespace, name)
        with self._lock:
            prev = self.applied.pop(key, None)
            self.pending.discard(key)
            if prev is None or not prev.ok:
                return
            try:
                self.agent().delete_policy(name, namespace)
                log.info("%s deleted", _describe(key))
                self.on_count("k8s_policy_delete")
            except AgentUnavailable:
                self.applied[key] = Applied(-1, "", True)  # deleted at the next sync
            except AgentRefused as e:
                log.warning("%s: delete refused: %s", _describe(key), e)

    def event(self, obj: dict, kind: str, reason: str, message: str) -> None:
        """A Kubernetes Event on the policy object, where ``kubectl describe`` shows it."""
        from kubernetes.client.rest import ApiException

        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") or "default"
        now = datetime.datetime.now(datetime.UTC)
        body = {
            "metadata": {"generateName": f"{meta.get('name', 'policy')}.", "namespace": ns},
            "involvedObject": {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": kind,
                "name": meta.get("name", ""),
                "namespace": meta.get("namespace", ""),
                "uid": meta.get("uid", ""),
                "resourceVersion": meta.get("resourceVersion", ""),
            },
            "reason": reason,
            "message": message[:1024],
            "type": "Warning",
            "source": {"component": self.component},
            "firstTimestamp": now.isoformat(),
            "lastTimestamp": now.isoformat(),
            "count": 1,
        }
        try:
            self.core.create_namespaced_event(ns, body)
        except ApiException as e:
            log.warning("cannot record the event on %s/%s: %s", ns, meta.get("name"), e.reason)

    # -- listing and watching -----------------------------------------------------------
    def _list_fn(self, plural: str):
        def fn(**kw):
            return self.custom.list_cluster_custom_object(GROUP, VERSION, plural, **kw)

        return fn

    def sync_kind(self, kind: str) -> str:
        """List one kind, apply what is new or changed, delete what is gone; returns the rv."""
        plural, _ = KINDS[kind]
        body = self._list_fn(plural)()
        seen = set()
        for obj in body.get("items") or []:
            obj.setdefault("kind", kind)
            meta = obj.get("metadata") or {}
            seen.add((kind, meta.get("namespace", "") or "", meta.get("name", "")))
            self.apply(kind, obj)
        for key in [k for k in list(self.applied) if k[0] == kind and k not in seen]:
            self.remove(*key)
        return (body.get("metadata") or {}).get("resourceVersion", "")

    def retry_pending(self) -> None:
        """Apply again what the agent could not take (it was down or restarting)."""
        for kind in {k[0] for k in self.pending} | {
            k[0] for k, a in self.applied.items() if a.generation == -1
        }:
            try:
                self.sync_kind(kind)
            except Exception as e:
                log.debug("retry of %s failed: %s", kind, e)

    def forget_agent(self) -> None:
        """A new agent process knows none of the policies: apply everything again."""
        with self._lock:
            self.applied.clear()
        for kind in KINDS:
            try:
                self.sync_kind(kind)
            except Exception as e:
                log.warning("cannot list %s: %s", KINDS[kind][0], e)

    def _watch_kind(self, kind: str) -> None:
        from kubernetes import watch

        plural, _ = KINDS[kind]
        pause = 0.5
        while not self._stop.is_set():
            try:
                rv = self.sync_kind(kind)
                if kind == "TracingPolicyNamespaced":
                    self.synced.set()
                pause = 0.5
                w = watch.Watch()
                for ev in w.stream(
                    self._list_fn(plural), resource_version=rv, timeout_seconds=300,
                    deserialize=False,
                ):  # fmt: skip
                    if self._stop.is_set():
                        return
                    obj = ev.get("object") or {}
                    typ = ev.get("type")
                    if typ == "ERROR":
                        break  # expired resource version: list again
                    obj.setdefault("kind", kind)
                    meta = obj.get("metadata") or {}
                    if typ in ("ADDED", "MODIFIED"):
                        self.apply(kind, obj)
                    elif typ == "DELETED":
                        self.remove(kind, meta.get("namespace", "") or "", meta.get("name", ""))
            except KeyError:
                continue  # the client's handling of an ERROR event: list again
            except Exception as e:
                if self._stop.is_set():
                    return
                log.warning(
                    "watch of %s interrupted (%s: %s); listing again in %.1f s",
                    plural, type(e).__name__, str(e).splitlines()[0][:200] if str(e) else "",
                    pause,
                )  # fmt: skip
                self._stop.wait(pause)
                pause = min(pause * 2, 30.0)

    def start(self) -> None:
        for kind in KINDS:
            t = threading.Thread(target=self._watch_kind, args=(kind,), daemon=True,
                                 name=f"watch-{KINDS[kind][0]}")  # fmt: skip
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()


def _describe(key: Key) -> str:
    kind, ns, name = key
    return f"{kind} {ns}/{name}" if ns else f"{kind} {name}"
