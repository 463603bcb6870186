"""matchReturnActions: actions the return half takes once a selector's matchReturnArgs
pass (Sigkill and Signal stop the process as the call returns; NoPost keeps the event
from being sent, whatever the entry did). On this host syscalls are hooked at their
sys_enter/sys_exit tracepoints."""

from __future__ import annotations

import subprocess
import textwrap

from .policy_harness import PY, Policy, agent_fixture, wait_policy_event

agent = agent_fixture()

POLICY = textwrap.dedent("""
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "lseek-return-actions"
spec:
  kprobes:
  - call: "sys_lseek"
    syscall: true
    return: true
    args:
    - index: 0
      type: "int"
    - index: 2
      type: "int"
    returnArg:
      index: 0
      type: "int"
    selectors:
    - matchArgs:
      - index: 2
        operator: "Equal"
        values:
        - "4242"
      matchReturnArgs:
      - index: 0
        operator: "Equal"
        values:
        - "-22"
      matchReturnActions:
      - action: Sigkill
    - matchArgs:
      - index: 2
        operator: "Equal"
        values:
        - "4243"
      matchReturnActions:
      - action: NoPost
    - matchArgs:
      - index: 2
        operator: "Equal"
        values:
        - "4244"
""")


def _lseek(fd_expr: str, whence: int) -> subprocess.CompletedProcess:
    code = (
        "import os\n"
        f"fd = {fd_expr}\n"
        f"try:\n    os.lseek(fd, 0, {whence})\nexcept OSError as e:\n    print(e.errno)\n"
    )
    return subprocess.run([PY, "-c", code], capture_output=True, text=True)


def _whence(ev: dict) -> int:
    return ev["args"][1]["int_arg"]


def test_sigkill_at_return_when_the_return_value_matches(agent, tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    with Policy(agent, tmp_path, POLICY):
        # a bad fd returns -EBADF, not -EINVAL: the return selector does not pass
        spared = _lseek("9999", 4242)
        killed = _lseek(f"os.open({str(f)!r}, os.O_RDONLY)", 4242)
        ev = wait_policy_event(agent, "lseek-return-actions", lambda b: _whence(b) == 4242)
    assert spared.returncode == 0 and spared.stdout.strip() == "9"  # EBADF
    assert killed.returncode == -9, killed
    assert ev["return"] == {"int_arg": -22}
    assert ev["action"] == "KPROBE_ACTION_SIGKILL"
    assert ev["args"][0]["int_arg"] >= 0  # the real fd: the EBADF call sent nothing


def test_nopost_at_return_suppresses_the_event(agent, tmp_path):
    with Policy(agent, tmp_path, POLICY):
        hidden = _lseek("0", 4243)
        shown = _lseek("0", 4244)
        ev = wait_policy_event(agent, "lseek-return-actions", lambda b: _whence(b) >= 4243)
    assert hidden.returncode == 0 and shown.returncode == 0
    assert _whence(ev) == 4244  # the first one sent: 4243's was suppressed at return
    assert ev["return"] == {"int_arg": -22}
    assert ev["action"] == "KPROBE_ACTION_POST"
