"""spec.loader: the mmap hook planned, the build id read, the process_loader body."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess

import pytest

from appliance.bpf.elf import elf_build_id
from appliance.policy import loader
from appliance.policy.model import TracingPolicy
from appliance.policy.plan import AllFeatures, plan_policy

TRUE = os.path.realpath("/bin/true")


def test_build_id_matches_readelf():
    if not shutil.which("readelf"):
        pytest.skip("readelf (binutils) not installed")
    out = subprocess.run(["readelf", "-n", TRUE], capture_output=True, text=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    if not m:
        pytest.skip(f"{TRUE} has no build id")
    assert elf_build_id(TRUE) == bytes.fromhex(m.group(1))


def test_build_id_of_a_non_elf_file(tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("not an ELF file")
    assert elf_build_id(str(f)) is None
    assert elf_build_id(str(tmp_path / "missing")) is None


def test_loader_plans_the_mmap_tracepoint():
    policy = TracingPolicy.model_validate(
        {
            "apiVersion": "cilium.io/v1alpha1",
            "kind": "TracingPolicy",
            "metadata": {"name": "l"},
            "spec": {"loader": True},
        }
    )
    (p,) = plan_policy(policy, AllFeatures(), offline=True)
    assert p.loader and p.section == "tracepoint/syscalls/sys_enter_mmap"
    assert [(a.index, a.type) for a in p.args] == [(9, "fd"), (7, "uint64")]


def test_event_body():
    body = {"process": {"pid": 1, "binary": "/bin/x"}, "parent": {"pid": 0}}
    assert loader.event_body(body, [{"file_arg": {"path": ""}}, {"size_arg": 5}], 1) is None
    out = loader.event_body(body, [{"file_arg": {"path": TRUE}}, {"size_arg": 5}], os.getpid())
    assert out["path"] == TRUE and out["process"] == body["process"] and "parent" in out
    bid = elf_build_id(TRUE)
    if bid:
        assert base64.b64decode(out["buildid"]) == bid
