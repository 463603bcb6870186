"""matchNamespaceChanges / matchCapabilityChanges: a namespace or capability of the
calling process differs from what it had when it executed its binary (the process
sensor keeps that state in the execve map). Syscall hooks: run on this host too."""

from __future__ import annotations

import subprocess
import sys

from .policy_harness import (
    Policy,
    agent_fixture,
    arg_selector,
    kprobe_events,
    policy_yaml,
    wait_policy_event,
)

MARK = 434343  # getpgid of a pid that does not exist: only this test's calls match
CALL = f"""
import os
try:
    os.getpgid({MARK})
except ProcessLookupError:
    pass
"""
UNSHARE_UTS = "import ctypes; assert ctypes.CDLL(None).unshare(0x04000000) == 0\n"
DROP_TO_NOBODY = "import os; os.setresuid(65534, 65534, 65534)\n"


agent = agent_fixture()


def _run(code: str) -> int:
    p = subprocess.Popen([sys.executable, "-c", code])
    assert p.wait() == 0
    return p.pid


def _policy(name: str, then: str) -> str:
    """getpgid(MARK) selected, and ``then`` (more keys of that selector) on top."""
    return policy_yaml(name, "sys_getpgid", ["int"], arg_selector(0, "Equal", MARK, then=then))


def test_match_namespace_changes(agent, tmp_path):
    # the selector of Tetragon's match_namespace_changes.yaml, on the UTS namespace
    sel = "matchNamespaceChanges:\n- operator: In\n  values:\n  - Uts"
    with Policy(agent, tmp_path, _policy("ns-changes", sel)):
        same = _run(CALL)
        changed = _run(UNSHARE_UTS + CALL)
        ev = wait_policy_event(agent, "ns-changes")
    assert ev["process"]["pid"] == changed
    assert all(e["process"]["pid"] != same for e in kprobe_events(agent, "ns-changes"))


def test_match_capability_changes(agent, tmp_path):
    # the selector of Tetragon's match_capability_changes.yaml
    sel = """
    matchCapabilityChanges:
    - type: Effective
      operator: In
      isNamespaceCapability: false
      values:
      - "CAP_SETUID"
    """
    with Policy(agent, tmp_path, _policy("cap-changes", sel)):
        same = _run(CALL)
        dropped = _run(DROP_TO_NOBODY + CALL)
        ev = wait_policy_event(agent, "cap-changes")
    assert ev["process"]["pid"] == dropped
    assert all(e["process"]["pid"] != same for e in kprobe_events(agent, "cap-changes"))
