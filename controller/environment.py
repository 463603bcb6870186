"""Which environment the appliance runs in, and where container metadata comes from.

- **Kubernetes**: a service account is mounted (its token under
  ``/var/run/secrets/kubernetes.io/serviceaccount``) and ``KUBERNETES_SERVICE_HOST`` is
  set: metadata source ``kubernetes`` (the node's pods through the kubernetes client), and
  the controller follows the TracingPolicy custom resources.
- **Docker**: a Docker engine answers a ping through the docker SDK (metadata source
  ``docker``: container names, images, labels, start/stop events), or Docker's container
  cgroups are present while no engine answers (metadata source ``cgroup``: container ids
  from cgroup paths only).
- **Linux**: none of those; metadata source ``cgroup``.

The engine is looked for where the agent looks (``appliance.metadata.select``): the
``DOCKER_HOST`` variable, ``/var/run/docker.sock``, and the host's socket through
``/proc/1/root`` in a container sharing the host's pid namespace. The ``metadata-source``
setting (``auto`` by default) overrides the decision. Every check made is kept as a
reason, so the log says why the controller decided what it did.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from appliance.metadata import select

SERVICE_ACCOUNT_TOKEN = select.SERVICE_ACCOUNT_TOKEN
CGROUP_ROOT = "/sys/fs/cgroup"

# Where Docker puts its containers' cgroups: systemd driver (v2 and v1), cgroupfs driver.
_DOCKER_CGROUP_GLOBS = (
    "system.slice/docker-*.scope",
    "*/system.slice/docker-*.scope",
    "docker/*",
    "*/docker/*",
)


@dataclass(frozen=True)
class Environment:
    kind: str  # kubernetes | docker | linux
    metadata_source: str  # docker | cgroup (| kubernetes when set explicitly)
    reasons: tuple[str, ...]
    docker_url: str = ""

    def describe(self) -> str:
        return f"environment {self.kind}, metadata source {self.metadata_source}: " + "; ".join(
            self.reasons
        )


def docker_cgroups(
    cgroup_root: str = CGROUP_ROOT, proc_self_cgroup: str = "/proc/self/cgroup"
) -> tuple[list[str], bool]:
    """Docker container cgroups in the cgroup tree (a few paths at most), and whether this
    process itself runs in one."""
    found: list[str] = []
    for pattern in _DOCKER_CGROUP_GLOBS:
        for path in glob.glob(os.path.join(glob.escape(cgroup_root), pattern)):
            if os.path.isdir(path):
                found.append(path)
        if len(found) >= 3:
            break
    inside = False
    try:
        with open(proc_self_cgroup) as f:
            text = f.read()
        inside = "/docker/" in text or "/docker-" in text
    except OSError:
        pass
    return found[:3], inside


def detect(
    setting: str = "auto",
    setting_source: str = "",
    *,
    environ: Mapping[str, str] | None = None,
    procfs: str = "/proc",
    token_path: str = SERVICE_ACCOUNT_TOKEN,
    cgroup_root: str = CGROUP_ROOT,
    proc_self_cgroup: str = "/proc/self/cgroup",
    ping: Callable[[str], tuple[bool, str]] = select.docker_ping,
    candidates: list[str] | None = None,
) -> Environment:
    """Decide the environment; ``setting`` is the ``metadata-source`` setting."""
    environ = os.environ if environ is None else environ
    reasons: list[str] = []

    kubernetes, why = select.in_kubernetes(environ, token_path)
    reasons.append(why if kubernetes else f"not Kubernetes: {why}")
    if not kubernetes and not os.path.exists(token_path):
        reasons.append(f"no service account token at {token_path}")

    # the same engine addresses and ping as the agent's own detection
    urls = candidates if candidates is not None else select.docker_candidates(environ, procfs)
    sel = select.detect("auto", env={}, procfs=procfs, ping=ping, candidates=urls)
    reasons.extend(sel.reasons)
    cgroups, inside = docker_cgroups(cgroup_root, proc_self_cgroup)
    if cgroups:
        reasons.append(f"Docker container cgroups present ({cgroups[0]})")
    if inside:
        reasons.append("this process runs in a Docker container")

    if kubernetes:
        kind = "kubernetes"
    elif sel.kind == "docker" or cgroups or inside:
        kind = "docker"
    else:
        kind = "linux"
    source = "kubernetes" if kubernetes else sel.kind
    if setting and setting != "auto":
        reasons.append(
            f"metadata-source={setting} set by {setting_source or 'the settings'} "
            f"overrides the detected {source}"
        )
        source = setting
    return Environment(kind, source, tuple(reasons), sel.docker_url)
