"""Which metadata source to use: the ``metadata-source`` setting, or detection for ``auto``.

``auto`` picks the Docker engine when one answers a ping, else cgroup names only. The
engine is looked for at ``DOCKER_HOST`` (when set), at ``/var/run/docker.sock`` and, when
the agent runs in a container that shares the host's pid namespace (``--pid=host``), at the
host's socket reached through the host's root as procfs shows it
(``/proc/1/root/run/docker.sock``, or through the Docker daemon's root), so the appliance
container needs no socket mount. Kubernetes (service host variable and
service-account token, or ``enable-k8s-api``) selects the pod source, which watches this
node's pods through the kubernetes client.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from appliance.metadata.base import MetadataSource
from appliance.metadata.cgroup import CgroupSource
from appliance.metadata.docker import DEFAULT_SOCKET, DockerSource
from appliance.metadata.docker import ping as docker_ping
from appliance.metadata.kubernetes import KubernetesSource

log = logging.getLogger("tetragon.metadata")

CHOICES = ("auto", "kubernetes", "docker", "cgroup")
SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"

Pinger = Callable[[str], tuple[bool, str]]


@dataclass
class Selection:
    """The chosen source kind, the engine address for Docker, and why."""

    kind: str
    docker_url: str = ""
    reasons: list[str] = field(default_factory=list)
    kubernetes: bool = False

    def summary(self) -> str:
        return f"metadata source {self.kind}: " + "; ".join(self.reasons)


def in_kubernetes(
    env: Mapping[str, str], token_path: str = SERVICE_ACCOUNT_TOKEN
) -> tuple[bool, str]:
    host = env.get("KUBERNETES_SERVICE_HOST", "")
    has_token = os.path.exists(token_path)
    if host and has_token:
        return True, f"KUBERNETES_SERVICE_HOST={host} and a service-account token"
    if host:
        return False, "KUBERNETES_SERVICE_HOST is set but there is no service-account token"
    return False, "no KUBERNETES_SERVICE_HOST"


def _same_file(a: str, b: str) -> bool:
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _find_pid(procfs: str, comm: str) -> int:
    """The lowest pid whose command name is ``comm`` (0 when none)."""
    try:
        pids = sorted(int(d) for d in os.listdir(procfs) if d.isdigit())
    except OSError:
        return 0
    for pid in pids:
        try:
            with open(os.path.join(procfs, str(pid), "comm")) as f:
                if f.read().strip() == comm:
                    return pid
        except OSError:
            continue
    return 0


def host_roots(procfs: str = "/proc") -> list[str]:
    """Other processes' root directories that are not ours, as procfs shows them.

    In a container that shares the host's pid namespace (``--pid=host``), pid 1's root is
    the host's file system, and so is the Docker daemon's (where pid 1's is not readable,
    or where the daemon runs in a mount namespace of its own).
    """
    out: list[str] = []
    for pid in (1, _find_pid(procfs, "dockerd")):
        if not pid:
            continue
        root = os.path.join(procfs, str(pid), "root")
        if root not in out and os.path.isdir(root) and not _same_file(root, "/"):
            out.append(root)
    return out


def docker_candidates(env: Mapping[str, str], procfs: str = "/proc") -> list[str]:
    """Engine addresses to try, best first (unix:// or tcp:// URLs)."""
    out: list[str] = []
    host = env.get("DOCKER_HOST", "").strip()
    if host:
        out.append(host)
    out.append("unix://" + DEFAULT_SOCKET)
    # the host's socket through another root: /run first, since /var/run is usually an
    # absolute symbolic link to /run, which would resolve inside our own root
    for root in host_roots(procfs):
        for path in ("/run/docker.sock", DEFAULT_SOCKET):
            if os.path.exists(root + path):
                out.append("unix://" + root + path)
                break
    seen: set[str] = set()
    return [u for u in out if not (u in seen or seen.add(u))]


def detect(
    setting: str,
    *,
    env: Mapping[str, str] | None = None,
    procfs: str = "/proc",
    ping: Pinger = docker_ping,
    candidates: list[str] | None = None,
    token_path: str = SERVICE_ACCOUNT_TOKEN,
    enable_k8s_api: bool = False,
) -> Selection:
    """Decide the metadata source for the ``metadata-source`` value ``setting``."""
    env = os.environ if env is None else env
    setting = (setting or "auto").strip().lower()
    if setting not in CHOICES:
        raise ValueError(f"metadata-source {setting!r}: expected one of {', '.join(CHOICES)}")
    if setting == "cgroup":
        return Selection("cgroup", reasons=["metadata-source is cgroup: container ids only"])
    if setting == "kubernetes":
        return Selection("kubernetes", reasons=["metadata-source is kubernetes"], kubernetes=True)

    reasons: list[str] = []
    k8s = False
    if setting == "auto":
        k8s, why = in_kubernetes(env, token_path)
        if k8s:
            return Selection(
                "kubernetes", reasons=[f"Kubernetes detected ({why})"], kubernetes=True
            )
        if enable_k8s_api:
            return Selection("kubernetes", reasons=["enable-k8s-api is set"], kubernetes=True)
    urls = candidates if candidates is not None else docker_candidates(env, procfs)
    for url in urls:
        ok, why = ping(url)
        if ok:
            reasons.append(f"Docker engine answers at {url} ({why})")
            return Selection("docker", docker_url=url, reasons=reasons, kubernetes=k8s)
        reasons.append(f"no Docker engine at {url} ({why})")
    if setting == "docker":
        url = urls[0] if urls else "unix://" + DEFAULT_SOCKET
        for u in urls:
            path = u[len("unix://") :] if u.startswith("unix://") else ""
            if path and os.path.exists(path):
                url = u
                break
        reasons.append(f"metadata-source is docker: will keep trying {url}")
        return Selection("docker", docker_url=url, reasons=reasons, kubernetes=k8s)
    reasons.append("using cgroup names only: container ids, no names")
    return Selection("cgroup", reasons=reasons, kubernetes=k8s)


@dataclass(frozen=True)
class K8sOptions:
    """What the Kubernetes source needs: this node's name and where the API is."""

    node_name: str = ""
    kubeconfig: str = ""
    keep_deleted: int = 1024


def create_source(
    selection: Selection, wait_s: float = 3.0, k8s: K8sOptions | None = None
) -> MetadataSource:
    """Build and start the source a selection names.

    Raises KubernetesError when the Kubernetes source cannot be configured.
    """
    if selection.kind == "kubernetes":
        k = k8s or K8sOptions()
        src = KubernetesSource(k.node_name, k.kubeconfig, k.keep_deleted)
        src.start(wait_s=max(wait_s, 5.0))
        return src
    if selection.kind == "docker":
        src = DockerSource(selection.docker_url or "unix://" + DEFAULT_SOCKET)
        src.start(wait_s=wait_s)
        return src
    return CgroupSource()


def open_source(
    setting: str, procfs: str = "/proc", k8s: K8sOptions | None = None, enable_k8s_api=False
) -> tuple[MetadataSource, Selection]:
    """Detect, log the decision with its reasons, and start the source."""
    sel = detect(setting, procfs=procfs, enable_k8s_api=enable_k8s_api)
    for reason in sel.reasons:
        log.info("metadata: %s", reason)
    log.info("metadata source: %s", sel.kind)
    return create_source(sel, k8s=k8s), sel
