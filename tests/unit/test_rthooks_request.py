"""Runtime hook requests: derivation of ContainerStart, the hook's hand-made wire bytes."""

from __future__ import annotations

import pytest

from appliance.api.tetragon import tetragon_pb2
from appliance.errors import HookError, RequestError
from appliance.metadata.base import ContainerInfo
from appliance.metadata.cgroupfs import pod_uid_from_cgroup
from appliance.metadata.hooks import HookAwareSource, HookRegistry, registry_sink
from appliance.rthooks import oci_hook
from appliance.rthooks.request import (
    container_id_from_cgroup,
    expand_systemd_path,
    from_request,
    resolve_cgroup_id,
)

CID = "828977b42e3149b502b31708778d0c057efbce038af80d0882ed3e0cb0ff8796"
UID = "d4e74de2-0db8-4143-ae55-695b2489c727"


@pytest.mark.parametrize(
    "path",
    [
        f"/kubepods/besteffort/pod{UID}/{CID}",
        f"/kubepods/besteffort/pod{UID}/crio-{CID}",
        f"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{UID.replace('-', '_')}"
        f".slice/cri-containerd-{CID}.scope",
    ],
)
def test_pod_and_container_from_cgroup(path):
    assert container_id_from_cgroup(path) == CID
    assert pod_uid_from_cgroup(path) == UID


def test_docker_and_libpod_ids():
    assert container_id_from_cgroup(f"/system.slice/docker-{CID}.scope") == CID
    assert container_id_from_cgroup(f"/machine.slice/libpod-{CID}.scope") == CID
    assert container_id_from_cgroup(f"/libpod_parent/libpod-{CID}") == CID
    assert container_id_from_cgroup("/user.slice/session-1.scope") == ""
    assert pod_uid_from_cgroup("/system.slice/docker.service") == ""


def test_systemd_expansion():
    slice_ = f"kubepods-besteffort-pod{UID.replace('-', '_')}.slice"
    assert expand_systemd_path(f"{slice_}:cri-containerd:{CID}") == (
        f"/kubepods.slice/kubepods-besteffort.slice/{slice_}/cri-containerd-{CID}.scope"
    )
    assert expand_systemd_path("system.slice:runc:abc") == "/system.slice/runc-abc.scope"
    assert oci_hook.systemd_expand("system.slice:runc:abc") == "/system.slice/runc-abc.scope"
    with pytest.raises(RequestError, match="not a valid systemd slice"):
        expand_systemd_path("a--b.slice:runc:abc")
    with pytest.raises(HookError, match="Unknown cgroup path"):
        oci_hook.systemd_expand("weird")


def _request(**cc) -> tetragon_pb2.RuntimeHookRequest:
    return tetragon_pb2.RuntimeHookRequest(createContainer=tetragon_pb2.CreateContainer(**cc))


def test_from_request_fills_gaps_from_cgroup_and_annotations():
    path = f"/kubepods/besteffort/pod{UID}/{CID}"
    req = _request(
        cgroupsPath=path,
        rootDir="/r",
        annotations={
            "io.kubernetes.cri.container-name": "test",
            "io.kubernetes.cri.sandbox-namespace": "default",
            "io.kubernetes.cri.image-name": "local/python:3",
        },
    )
    start = from_request(req, cgroup_id_of=lambda p: 42 if p == path else 0)
    assert (start.container_id, start.pod_uid, start.cgroup_id) == (CID, UID, 42)
    assert (start.container_name, start.pod_namespace, start.image) == (
        "test",
        "default",
        "local/python:3",
    )


def test_from_request_errors():
    with pytest.raises(RequestError, match="no createContainer"):
        from_request(tetragon_pb2.RuntimeHookRequest())
    with pytest.raises(RequestError, match="both empty"):
        from_request(_request(rootDir="/r"))


def test_resolve_cgroup_id_on_this_host(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    ino = (tmp_path / "a" / "b").stat().st_ino
    assert resolve_cgroup_id("/a/b", roots=[str(tmp_path / "none"), str(tmp_path)]) == (
        ino,
        str(tmp_path / "a" / "b"),
    )
    assert resolve_cgroup_id("/missing", roots=[str(tmp_path)]) == (0, "")


def test_hand_encoded_request_decodes_by_published_numbers():
    """The hook's bytes, read with the v1 definitions (CreateContainer fields 1..9)."""
    cc = {
        "cgroupsPath": "/kubepods/x",
        "rootDir": "/root",
        "annotations": {"a": "1", "b": "2"},
        "containerName": "n",
        "containerID": CID,
        "podName": "p",
        "podUID": UID,
        "podNamespace": "default",
        "containerImage": "img",
    }
    msg = tetragon_pb2.RuntimeHookRequest.FromString(oci_hook.encode_request(cc))
    got = msg.createContainer
    assert dict(got.annotations) == cc.pop("annotations")
    for k, v in cc.items():
        assert getattr(got, k) == v
    # and the other way: tag bytes for fields 1, 2, 4 and 9 of CreateContainer
    raw = oci_hook.encode_request({"cgroupsPath": "c", "rootDir": "r", "containerImage": "i"})
    assert raw == b"\x0a\x09" + b"\x0a\x01c" + b"\x12\x01r" + b"\x4a\x01i"


def test_registry_sink_feeds_metadata_lookup():
    reg = HookRegistry(limit=2)
    src = HookAwareSource(reg, None)
    start = from_request(_request(cgroupsPath=f"/libpod_parent/libpod-{CID}", containerName="web"))
    registry_sink(reg)(start)
    info = src.container(CID[:31], 0)
    assert isinstance(info, ContainerInfo) and info.name == "web"
    for i in range(3):
        reg.add(ContainerInfo(id=str(i) * 64))
    assert reg.get(CID) is None and len(reg) == 2


@pytest.mark.parametrize(
    "ns,allow,rx,fails",
    [
        ("kube-system", "kube-system", "", False),
        ("default", "kube-system", "", True),
        ("team-a", "kube-system,team-a", "", False),
        ("ci-42", "kube-system", "ci-[0-9]+", False),
        ("", "kube-system", ".*", True),
    ],
)
def test_fail_check(ns, allow, rx, fails):
    conf = oci_hook.parse_args(
        [f"--fail-allow-namespaces={allow}", "--fail-allow-namespaces-regex", rx, "createRuntime"]
    )
    ann = {"io.kubernetes.pod.namespace": ns} if ns else {}
    assert bool(oci_hook.fail_check(conf, ann)) is fails


def test_duration_flag():
    assert oci_hook.parse_duration("10s") == 10
    assert oci_hook.parse_duration("250ms") == 0.25
    with pytest.raises(ValueError, match="grpc-timeout"):
        oci_hook.parse_duration("soon")
