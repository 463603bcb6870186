"""The hook's hand-made RuntimeHookRequest bytes, read by field number alone.

The hook builds its request without protobuf (start-up time), so a wrong number would go
unnoticed by a round trip through our own generated classes if the .proto were wrong too.
This decoder knows only the wire format and the numbers of Tetragon's v1 definition
(RuntimeHookRequest.createContainer = 1; CreateContainer: cgroupsPath 1, rootDir 2,
annotations 3 (map entry key 1, value 2), containerName 4, containerID 5, podName 6,
podUID 7, podNamespace 8, containerImage 9).
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
    }
    top = _fields(oci_hook.encode_request(cc))
    assert [n for n, _ in top] == [CREATE_CONTAINER]
    got: dict[str, str] = {}
    ann: dict[str, str] = {}
    for num, payload in _fields(top[0][1]):
        if num == ANNOTATIONS:
            entry = dict(_fields(payload))
            ann[entry[1].decode()] = entry[2].decode()
        else:
            assert num in NUMBERS, f"unexpected CreateContainer field {num}"
            got[NUMBERS[num]] = payload.decode()
    assert ann == cc.pop("annotations")
    assert got == cc


def test_empty_fields_are_left_out():
    top = _fields(oci_hook.encode_request({"cgroupsPath": "/a"}))
    assert _fields(top[0][1]) == [(1, b"/a")]
