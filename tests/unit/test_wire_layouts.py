"""The Python struct formats read the C structs of bpf/include exactly (Tetragon's
alignchecker idea): each ``Layout`` is compared, size and every scalar's offset, width
and signedness, with the BTF clang emits for the struct of the same name. A field added,
removed, widened or moved on one side only fails here.

Two BTF sources: a probe object compiled from the headers alone (it names every struct
the Python side reads, so each is in its BTF) and the built process sensor object
(``make bpf``), for the structs it carries.
"""

from __future__ import annotations

import os
import platform
import shutil
import struct
import subprocess

import pytest

from appliance.bpf.layout import Layout
from appliance.policy import decode
from appliance.sensors import wire
from tests.unit.btf_structs import BtfStructs, format_leaves

pytestmark = pytest.mark.skipif(shutil.which("clang") is None, reason="clang not installed")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BPF = os.path.join(ROOT, "bpf")
LAYOUTS: tuple[Layout, ...] = wire.LAYOUTS + decode.LAYOUTS
ARCH = {"x86_64": "x86", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
CFLAGS = ["-O2", "-g", "-target", "bpf", f"-D__TARGET_ARCH_{ARCH}", "-Wall"]


def _compile(src: str, out: str) -> None:
    r = subprocess.run(
        ["clang", *CFLAGS, "-I", os.path.join(BPF, "include"), "-c", "-x", "c", "-", "-o", out],
        input=src.encode(),
        capture_output=True,
    )
    assert r.returncode == 0, f"the layout probe does not compile:\n{r.stderr.decode()}"


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> BtfStructs:
    """BTF of every struct named in LAYOUTS, from the headers the BPF programs include."""
    lines = ["#define NSLOTS 1", "#define NHOOKS 1", '#include "policy.h"']
    lines += [f"struct {lay.name} *layout_{lay.name};" for lay in LAYOUTS]
    out = str(tmp_path_factory.mktemp("layouts") / "layouts.o")
    _compile("\n".join(lines) + "\n", out)
    return BtfStructs(out)


@pytest.fixture(scope="module")
def built() -> BtfStructs:
    """BTF of the process sensor object as `make bpf` builds it."""
    r = subprocess.run(["make", "-s", "-C", BPF], capture_output=True)
    assert r.returncode == 0, f"make -C bpf failed:\n{r.stderr.decode()}"
    return BtfStructs(os.path.join(BPF, "objs", "process.bpf.o"))


def check(btf: BtfStructs, lay: Layout) -> None:
    where = f"struct {lay.name} ({btf.path})"
    assert lay.name in btf, f"{where}: not in the BTF"
    if lay.tail:
        fixed = btf.member_offset(lay.name, lay.tail)
        assert lay.size == fixed, (
            f"{where}: Python reads {lay.size} bytes before {lay.tail}, C puts it at {fixed}"
        )
    else:
        assert lay.size == btf.size(lay.name), (
            f"{where}: Python reads {lay.size} bytes, C's struct is {btf.size(lay.name)}"
        )
    c_leaves = [leaf for leaf in btf.leaves(lay.name) if leaf.offset < lay.size]
    py_leaves = format_leaves(lay.parts)
    for i, (c, py) in enumerate(zip(c_leaves, py_leaves, strict=False)):
        same = c.offset == py.offset and c.size == py.size
        if same and None not in (c.signed, py.signed):
            same = c.signed == py.signed
        assert same, f"{where}: scalar {i} is {c} in C but {py} in the Python formats"
    assert len(c_leaves) == len(py_leaves), (
        f"{where}: {len(c_leaves)} scalars in C, {len(py_leaves)} in the Python formats"
    )


@pytest.mark.parametrize("lay", LAYOUTS, ids=lambda lay: lay.name)
def test_python_format_matches_the_headers(probe, lay):
    check(probe, lay)


def test_python_formats_match_the_built_sensor(built):
    carried = [lay for lay in LAYOUTS if lay.name in built]
    assert {"msg_header", "msg_exec", "exec_info"} <= {lay.name for lay in carried}
    for lay in carried:
        check(built, lay)


def test_a_field_added_on_the_c_side_only_fails(tmp_path):
    """The check itself: msg_clone with one more member no longer matches wire.CLONE."""
    src = '#include "process_msgs.h"\n'
    src += "struct msg_clone_grown { struct msg_header h; u32 ppid; u32 pad; u64 start_time;"
    src += " u32 extra; } *p;\n"
    out = str(tmp_path / "grown.o")
    _compile(src, out)
    grown = Layout("msg_clone_grown", (wire.HEADER, wire.CLONE))
    with pytest.raises(AssertionError, match="Python reads 40 bytes, C's struct is 48"):
        check(BtfStructs(out), grown)


def test_a_moved_or_retyped_field_fails(probe):
    """Same size, other order or signedness: the scalar-by-scalar comparison catches it."""
    moved = Layout("msg_exit", (wire.HEADER, struct.Struct("<QII")))
    with pytest.raises(AssertionError, match="scalar 7 is"):
        check(probe, moved)
    signed = Layout("msg_exit", (wire.HEADER, struct.Struct("<iIQ")))
    with pytest.raises(AssertionError, match="scalar 7 is"):
        check(probe, signed)


def test_exec_info_keeps_room_for_the_nul():
    """The agent's execve_map values for processes older than it: as the exec program's."""
    short = wire.EXEC_INFO.unpack(wire.exec_info("/bin/sh"))
    assert short[:3] == (7, 0, b"/bin/sh".ljust(wire.BINARY_MAX, b"\0"))
    assert not any(short[3:])  # no exec-time caps or namespaces, EXEC_INFO_STATE unset
    n, flags, raw = wire.EXEC_INFO.unpack(wire.exec_info("/" + "x" * 400))[:3]
    assert (n, flags, raw[-1]) == (wire.BINARY_MAX - 1, 0, 0)
