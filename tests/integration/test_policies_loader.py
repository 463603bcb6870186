"""`spec.loader: true`: process_loader events for the executable files a process maps,
with their path and GNU build id (Tetragon's ProcessLoader), from sys_enter_mmap."""

from __future__ import annotations

import base64
import os
import re
import subprocess

import pytest

from appliance.bpf.elf import elf_build_id

from .conftest import start_policy_agent
from .test_policies import Policy, tetra

TRUE = os.path.realpath("/bin/true")

LOADER = """
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "loader"
spec:
  loader: true
"""


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    a = start_policy_agent(tmp_path_factory)
    yield a
    a.stop()


def _readelf_build_id(path: str) -> bytes:
    """The build id as binutils reads it (an independent parser)."""
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    assert m, out
    return bytes.fromhex(m.group(1))


def _libc_of(binary: str) -> str:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    m = re.search(r"libc\.so\.6 => (\S+)", out)
    assert m, out
    return m.group(1)


def test_library_mapped_by_the_dynamic_linker(agent, tmp_path):
    libc = _libc_of(TRUE)
    with Policy(agent, tmp_path, LOADER):
        assert "loader" in tetra(agent, "tracingpolicy", "list").stdout
        p = subprocess.Popen([TRUE])
        assert p.wait() == 0

        def mine(e):
            ev = e.get("process_loader")
            return ev if ev and ev["process"].get("pid") == p.pid else None

        ev = agent.wait_for(lambda e: bool(mine(e)) and
                            mine(e)["path"].endswith("libc.so.6"))["process_loader"]  # fmt: skip
    assert ev["process"]["binary"] == TRUE
    assert os.path.realpath(ev["path"]) == os.path.realpath(libc)
    want = _readelf_build_id(os.path.realpath(libc))
    assert base64.b64decode(ev["buildid"]) == want
    assert elf_build_id(os.path.realpath(libc)) == want
    assert "parent" in ev
