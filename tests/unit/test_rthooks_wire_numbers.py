"""The hook's hand-made RuntimeHookRequest bytes, read by field number alone.

The hook builds its request without protobuf (start-up time), so a wrong number would go
unnoticed by a round trip through our own generated classes if the .proto were wrong too.
This decoder knows only the wire format and the numbers of Tetragon's published v1
definition, read from `api/v1/tetragon/tetragon.proto` in Tetragon's source
(RuntimeHookRequest: oneof event { CreateContainer createContainer = 1 }; CreateContainer:
cgroupsPath 1, rootDir 2, annotations 3 (map<string, string>: entry key 1, value 2),
containerName 4, containerID 5, podName 6, podUID 7, podNamespace 8, containerImage 9,
repeated Mount mounts 10; Mount: destination 1, type 2, source 3, repeated options 4).
The agent's own .proto is checked against the same table, so the upstream hook's bytes
decode there as these do.
"""

from __future__ import annotations

from appliance.rthooks import oci_hook

CREATE_CONTAINER = 1
NUMBERS = {
    1: "cgroupsPath",
    2: "rootDir",
    4: "containerName",
    5: "containerID",
    6: "podName",
    7: "podUID",
    8: "podNamespace",
    9: "containerImage",
}
ANNOTATIONS = 3
MOUNTS = 10
MOUNT_NUMBERS = {1: "destination", 2: "type", 3: "source", 4: "options"}


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, bytes]]:
    """(number, payload) of each length-delimited field; any other wire type fails."""
    out, i = [], 0
    while i < len(buf):
        key, i = _varint(buf, i)
        assert key & 7 == 2, f"field {key >> 3}: wire type {key & 7}, want 2"
        n, i = _varint(buf, i)
        out.append((key >> 3, buf[i : i + n]))
        i += n
    assert i == len(buf)
    return out


def test_every_field_lands_on_its_published_number():
    cc = {
        "cgroupsPath": "/kubepods/besteffort/pod1/c1",
        "rootDir": "/run/containerd/rootfs",
        "containerName": "web",
        "containerID": "c" * 64,
        "podName": "p",
        "podUID": "u-1",
        "podNamespace": "default",
        "containerImage": "local/img:1",
        # long enough that lengths need two varint bytes
        "annotations": {"io.kubernetes.cri.sandbox-name": "p", "x": "y" * 200},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": []},
            {"destination": "/etc/hosts", "type": "bind", "source": "/var/lib/h",
             "options": ["rbind", "ro"]},
        ],
    }  # fmt: skip
    top = _fields(oci_hook.encode_request(cc))
    assert [n for n, _ in top] == [CREATE_CONTAINER]
    got: dict[str, str] = {}
    ann: dict[str, str] = {}
    mounts: list[dict] = []
    for num, payload in _fields(top[0][1]):
        if num == ANNOTATIONS:
            entry = dict(_fields(payload))
            ann[entry[1].decode()] = entry[2].decode()
        elif num == MOUNTS:
            m: dict = {"options": []}
            for mnum, v in _fields(payload):
                assert mnum in MOUNT_NUMBERS, f"unexpected Mount field {mnum}"
                if mnum == 4:
                    m["options"].append(v.decode())
                else:
                    m[MOUNT_NUMBERS[mnum]] = v.decode()
            mounts.append(m)
        else:
            assert num in NUMBERS, f"unexpected CreateContainer field {num}"
            got[NUMBERS[num]] = payload.decode()
    assert ann == cc.pop("annotations")
    assert mounts == cc.pop("mounts")
    assert got == cc


def test_agent_proto_has_the_published_numbers():
    from appliance.api.tetragon import tetragon_pb2

    req = tetragon_pb2.RuntimeHookRequest.DESCRIPTOR
    assert req.fields_by_name["createContainer"].number == CREATE_CONTAINER
    cc = tetragon_pb2.CreateContainer.DESCRIPTOR
    want = {**NUMBERS, ANNOTATIONS: "annotations", MOUNTS: "mounts"}
    assert {f.number: f.name for f in cc.fields} == want
    mount = tetragon_pb2.Mount.DESCRIPTOR
    assert {f.number: f.name for f in mount.fields} == MOUNT_NUMBERS


def test_agent_decodes_the_hook_bytes():
    from appliance.api.tetragon import tetragon_pb2

    cc = {
        "cgroupsPath": "/a",
        "containerName": "c",
        "annotations": {"k": "v"},
        "mounts": [{"destination": "/d", "type": "bind", "source": "/s", "options": ["ro"]}],
    }
    msg = tetragon_pb2.RuntimeHookRequest.FromString(oci_hook.encode_request(cc))
    got = msg.createContainer
    assert (got.cgroupsPath, got.containerName, dict(got.annotations)) == ("/a", "c", {"k": "v"})
    assert [(m.destination, m.type, m.source, list(m.options)) for m in got.mounts] == [
        ("/d", "bind", "/s", ["ro"])]  # fmt: skip


def test_empty_fields_are_left_out():
    top = _fields(oci_hook.encode_request({"cgroupsPath": "/a"}))
    assert _fields(top[0][1]) == [(1, b"/a")]
