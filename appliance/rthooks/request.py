"""What a runtime hook tells the agent about a starting container, in the agent's terms.

A ``RuntimeHookRequest`` (Tetragon's v1 API) carries what the runtime knows: a cgroup path
relative to the cgroup mount, the root directory and annotations; pod and container fields
are a convenience that hooks leave empty when the annotations lack them. The functions
here turn it into a :class:`ContainerStart`, filling the gaps from the cgroup path and the
cgroup id from the host's cgroup file system, so a sink (the Kubernetes pod filter or the
default registry) needs nothing else. They are pure except :func:`resolve_cgroup_id`, which
stats directories.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from appliance.errors import RequestError
from appliance.metadata.cgroupfs import pod_uid_from_cgroup

#: cgroup v2 mount first (this host has it at /sys/fs/cgroup/unified), then v1 hierarchies
DEFAULT_CGROUP_ROOTS = (
    "/sys/fs/cgroup",
    "/sys/fs/cgroup/unified",
    "/sys/fs/cgroup/systemd",
    "/sys/fs/cgroup/memory",
    "/sys/fs/cgroup/pids",
    "/sys/fs/cgroup/cpu",
)

_HEX64 = r"[0-9a-f]{64}"
# the container id as the last cgroup component names it, in every runtime's form
_ID_RES = (
    re.compile(rf"^(?:cri-containerd|crio|docker|libpod|containerd)-({_HEX64})\.scope$"),
    re.compile(rf"^(?:crio|docker|libpod)-({_HEX64})$"),
    re.compile(rf"^({_HEX64})$"),
    re.compile(rf"^[^:]*:(?:cri-containerd|crio|docker|libpod):({_HEX64})$"),
)


@dataclass(frozen=True)
class ContainerStart:
    """A container about to run its first process, as the agent acts on it."""

    cgroups_path: str
    cgroup_id: int
    root_dir: str
    container_id: str
    container_name: str
    pod_uid: str
    pod_name: str
    pod_namespace: str
    image: str
    annotations: dict[str, str] = field(default_factory=dict)


#: what the agent calls for every container start; may block (bounded) until enforcement
#: for the container is in place, and raises to fail the request
Sink = Callable[[ContainerStart], None]


def expand_systemd_path(path: str) -> str:
    """``slice:prefix:name`` (runc --systemd-cgroup) -> the cgroup path systemd creates.

    ``kubepods-besteffort-pod1.slice:cri-containerd:abc`` becomes
    ``/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/
    cri-containerd-abc.scope``. A path with a ``/`` is returned as it is.
    """
    if "/" in path or path.count(":") != 2:
        return path
    slice_, prefix, name = path.split(":")
    if not slice_.endswith(".slice") or slice_ == "-.slice":
        parent = "/"
    else:
        stem = slice_[: -len(".slice")]
        if not stem or stem.startswith("-") or stem.endswith("-") or "--" in stem:
            raise RequestError(f"cgroupsPath {path!r}: {slice_!r} is not a valid systemd slice")
        parts = stem.split("-")
        parent = "/" + "/".join("-".join(parts[: i + 1]) + ".slice" for i in range(len(parts)))
    leaf = name if name.endswith(".slice") else f"{prefix}-{name}.scope"
    return parent.rstrip("/") + "/" + leaf


def container_id_from_cgroup(path: str) -> str:
    """The 64-hex container id the last component of a cgroup path names, or ''."""
    leaf = path.rstrip("/").rsplit("/", 1)[-1]
    for rx in _ID_RES:
        m = rx.match(leaf)
        if m:
            return m.group(1)
    return ""


def resolve_cgroup_id(
    cgroups_path: str, roots: Iterable[str] = DEFAULT_CGROUP_ROOTS
) -> tuple[int, str]:
    """The cgroup id (the directory's inode) and the directory, trying each cgroup root.

    A root counts only where it is a cgroup mount holding the path; the v2 mount gives the
    id the kernel's ``bpf_get_current_cgroup_id`` returns. (0, '') when none has it yet.
    """
    rel = cgroups_path.lstrip("/")
    for root in roots:
        d = os.path.join(root, rel)
        try:
            st = os.stat(d)
        except OSError:
            continue
        if rel or os.path.exists(os.path.join(d, "cgroup.procs")):
            return st.st_ino, d
    return 0, ""


def _first(annotations: Mapping[str, str], keys: Iterable[str]) -> str:
    for k in keys:
        v = annotations.get(k, "")
        if v:
            return v
    return ""


def container_start(create, cgroup_id_of: Callable[[str], int] | None = None) -> ContainerStart:
    """A ``CreateContainer`` message (or anything with its fields) -> ContainerStart.

    ``cgroup_id_of`` maps the expanded cgroup path to its id (default:
    :func:`resolve_cgroup_id` on this host). Raises :class:`RequestError` when neither a
    cgroup path nor a container id can be had.
    """
    ann = dict(create.annotations)
    raw = create.cgroupsPath
    path = expand_systemd_path(raw) if raw else ""
    cid = create.containerID or _first(ann, ("io.kubernetes.cri-o.ContainerID",))
    cid = cid or container_id_from_cgroup(path)
    if not path and not cid:
        raise RequestError("createContainer: cgroupsPath and containerID are both empty")
    if cgroup_id_of is None:

        def cgroup_id_of(p: str) -> int:
            return resolve_cgroup_id(p)[0]

    return ContainerStart(
        cgroups_path=path,
        cgroup_id=cgroup_id_of(path) if path else 0,
        root_dir=create.rootDir,
        container_id=cid,
        container_name=create.containerName
        or _first(ann, ("io.kubernetes.cri.container-name", "io.kubernetes.container.name")),
        pod_uid=create.podUID
        or _first(ann, ("io.kubernetes.cri.sandbox-uid", "io.kubernetes.pod.uid"))
        or pod_uid_from_cgroup(path),
        pod_name=create.podName
        or _first(ann, ("io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name")),
        pod_namespace=create.podNamespace
        or _first(ann, ("io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace")),
        image=create.containerImage
        or _first(ann, ("io.kubernetes.cri.image-name", "io.kubernetes.cri-o.ImageName")),
        annotations=ann,
    )


def from_request(request, cgroup_id_of: Callable[[str], int] | None = None) -> ContainerStart:
    """A ``RuntimeHookRequest`` -> ContainerStart; RequestError when it has no event."""
    if request.WhichOneof("event") != "createContainer":
        raise RequestError("RuntimeHookRequest: no createContainer event")
    return container_start(request.createContainer, cgroup_id_of)
