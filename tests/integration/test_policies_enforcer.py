"""Enforcers: a selector's NotifyEnforcer tells the enforcer program on the enforcer's
calls what to do (argSig, argError) in that thread. Signal only: runs on this host (the
enforcer sits on the syscall's sys_exit tracepoint); making the call fail needs
fmod_ret / bpf_override_return, and where the kernel has neither the policy is refused
naming them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import kernel_has_kprobes
from .policy_harness import (
    Policy,
    agent_fixture,
    arg_selector,
    policy_yaml,
    tetra,
    wait_policy_event,
)

MARK = -7  # lseek(-7): only this test's calls match


agent = agent_fixture()


# Tetragon's killer.yaml, in its current words (enforcers, NotifyEnforcer) and on lseek
def _enforcer(name: str, error: str = "") -> str:
    """lseek(MARK) notifies the enforcer on sys_lseek: signal 9, and ``error`` if any."""
    then = 'matchActions:\n- action: "NotifyEnforcer"\n  argSig: 9' + error
    return policy_yaml(
        name, "sys_lseek", ["int"], arg_selector(0, "Equal", MARK, then=then),
        spec_extra='enforcers:\n- calls:\n  - "sys_lseek"',
    )  # fmt: skip


def test_notify_enforcer_signal(agent, tmp_path):
    with Policy(agent, tmp_path, _enforcer("enforce-lseek")):
        listed = tetra(agent, "tracingpolicy", "list").stdout
        killed = subprocess.run([sys.executable, "-c", f"import os; os.lseek({MARK}, 0, 0)"])
        ok = subprocess.run([sys.executable, "-c", "import os; os.lseek(0, 0, 1)"])
        ev = wait_policy_event(agent, "enforce-lseek")
    assert killed.returncode == -9
    assert ok.returncode in (0, 1)  # not notified: not killed (fd 0 may not be seekable)
    assert ev["action"] == "KPROBE_ACTION_NOTIFYENFORCER"
    assert ev["args"] == [{"int_arg": MARK}]
    assert "sys_lseek" in listed


@pytest.mark.skipif(kernel_has_kprobes(), reason="this kernel may be able to override")
def test_notify_enforcer_error_needs_override(agent, tmp_path):
    path = tmp_path / "enforce-error.yaml"
    path.write_text(_enforcer("enforce-lseek-error", error="\n  argError: -1"))
    out = tetra(agent, "tracingpolicy", "add", str(path), check=False)
    msg = out.stdout + out.stderr
    assert out.returncode != 0
    assert "spec.enforcers[0].calls" in msg and "bpf_override_return" in msg, msg
    assert "not supported" not in msg
