"""Post imaHash on LSM hooks: the event's ima_hash is the file's digest as the kernel's IMA
computes it ("sha256:<hex>"). Needs a sleepable BPF LSM program calling bpf_ima_file_hash
(Linux 5.18+, CONFIG_IMA, bpf in lsm=): the tests/vm guests; elsewhere the agent refuses
the policy and says why."""

from __future__ import annotations

import hashlib
import mmap
import os
import shutil
import subprocess

import pytest

from .policy_harness import (
    Policy,
    agent_fixture,
    arg_selector,
    policy_yaml,
    tetra,
    wait_policy_event,
)

IMA_POST = "matchActions:\n- action: Post\n  imaHash: true"


def _ima_ok() -> bool:
    """The agent's own probe: a sleepable LSM program calling bpf_ima_file_hash loads."""
    try:
        from appliance.bpf.features import _lsm_active, _try_load
        from appliance.bpf.paths import bpf_lib

        probes = os.path.join(bpf_lib(), "probes.bpf.o")
        return _lsm_active() and _try_load(probes, "probe_ima_hash", "")
    except Exception:
        return False


IMA_OK = _ima_ok()
needs_ima = pytest.mark.skipif(
    not IMA_OK,
    reason="no sleepable BPF LSM with bpf_ima_file_hash on this kernel (Linux 5.18+, "
    "CONFIG_IMA, bpf in lsm=): run in the tests/vm guests",
)

agent = agent_fixture()


def _sha256(path) -> str:
    return "sha256:" + hashlib.sha256(open(path, "rb").read()).hexdigest()


def _ima_policy(name: str, hook: str, arg: str, target) -> str:
    """One LSM hook whose Post asks for the IMA hash of the file ``target``."""
    selector = arg_selector(0, "Equal", target, then=IMA_POST)
    return policy_yaml(name, hook, [arg], selector, hook="lsmhooks", syscall=None)


def _file_open_policy(target) -> str:
    return _ima_policy("ima-file-open", "file_open", "file", target)


@needs_ima
def test_mmap_file_reports_the_files_sha256(agent, tmp_path):
    target = tmp_path / "mapped.bin"
    target.write_bytes(b"IMA hash of this file\n" * 100)
    policy = _ima_policy("ima-mmap", "mmap_file", "file", target)
    with Policy(agent, tmp_path, policy):
        with open(target, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ):
            pass
        ev = wait_policy_event(agent, "ima-mmap", kind="process_lsm")
    assert ev["function_name"] == "mmap_file"
    assert ev["args"][0]["file_arg"]["path"] == str(target)
    assert ev["ima_hash"] == _sha256(target)


@needs_ima
def test_file_open_hash_or_the_reason_there_is_none(agent, tmp_path):
    """On file_open the file is not readable yet: IMA hashes only a file its policy has
    already measured; otherwise the event comes without ima_hash and the log says why."""
    target = tmp_path / "opened.txt"
    target.write_bytes(b"opened\n" * 100)
    with Policy(agent, tmp_path, _file_open_policy(target)):
        open(target, "rb").close()
        ev = wait_policy_event(agent, "ima-file-open", kind="process_lsm")
    assert ev["args"][0]["file_arg"]["path"] == str(target)
    print("file_open ima_hash:", ev.get("ima_hash", "(none)"))
    if "ima_hash" in ev:
        assert ev["ima_hash"] == _sha256(target)
    else:
        log = agent.log.read_text(errors="replace")
        assert "file_open event without ima_hash: IMA could not measure the file" in log


@needs_ima
def test_bprm_check_security_reports_the_binarys_sha256(agent, tmp_path):
    binary = tmp_path / "true-copy"
    shutil.copy(shutil.which("true") or "/bin/true", binary)
    policy = _ima_policy("ima-exec", "bprm_check_security", "linux_binprm", binary)
    with Policy(agent, tmp_path, policy):
        subprocess.run([str(binary)], check=True)
        ev = wait_policy_event(agent, "ima-exec", kind="process_lsm")
    assert ev["function_name"] == "bprm_check_security"
    assert ev["ima_hash"] == _sha256(binary)


@pytest.mark.skipif(IMA_OK, reason="this kernel has what imaHash needs")
def test_refused_where_the_kernel_lacks_it(agent, tmp_path):
    path = tmp_path / "ima-refused.yaml"
    path.write_text(_file_open_policy(tmp_path / "x"))
    out = tetra(agent, "tracingpolicy", "add", str(path), check=False)
    assert out.returncode != 0
    assert "spec.lsmhooks[0]" in out.stderr
    assert "BPF LSM" in out.stderr or "bpf_ima_file_hash" in out.stderr
