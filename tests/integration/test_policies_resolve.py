"""`resolve:` follows struct members from a BTF-typed argument, as Tetragon's
lsm_track_grandparent.yml does from bprm_check_security's linux_binprm. The same code
serves kernel functions, LSM hooks and raw tracepoints; a raw tracepoint runs on this host.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from .policy_harness import (
    Policy,
    agent_fixture,
    arg_selector,
    policy_yaml,
    tetra,
    wait_policy_event,
)

TRUE = os.path.realpath("/bin/true")
PARENT = "resolvparent"  # the comm the exec's parent sets for itself
SPAWN = (
    f"import ctypes, subprocess; ctypes.CDLL(None).prctl(15, b'{PARENT}', 0, 0, 0); "
    f"subprocess.run(['{TRUE}'])"
)


agent = agent_fixture()


PARENT_ARGS = [(0, "string", {"resolve": "real_parent.comm"}),
               (0, "int", {"resolve": "real_parent.tgid"})]  # fmt: skip
RESOLVE = policy_yaml(
    "resolve-parent", "sched/sched_process_exec", PARENT_ARGS, arg_selector(0, "Equal", PARENT),
    hook="tracepoints", syscall=None, call_extra="raw: true",
)  # fmt: skip


def test_resolve_parent_comm_and_pid(agent, tmp_path):
    with Policy(agent, tmp_path, RESOLVE):
        parent = subprocess.Popen([sys.executable, "-c", SPAWN])
        parent.wait()
        subprocess.run([TRUE], check=True)  # another parent: filtered out in the kernel
        ev = wait_policy_event(agent, "resolve-parent", kind="process_tracepoint")
    assert ev["args"] == [{"string_arg": PARENT}, {"int_arg": parent.pid}]
    assert ev["process"]["binary"] == TRUE


def test_resolve_unknown_member_refused(agent, tmp_path):
    bad = RESOLVE.replace("real_parent.comm", "real_parent.no_such_member").replace(
        'name: "resolve-parent"', 'name: "resolve-bad"'
    )
    path = tmp_path / "resolve-bad.yaml"
    path.write_text(textwrap.dedent(bad))
    out = tetra(agent, "tracingpolicy", "add", str(path), check=False)
    msg = out.stdout + out.stderr
    assert out.returncode != 0
    assert "spec.tracepoints[0].args[0].resolve" in msg and "no_such_member" in msg, msg
    assert "struct task_struct" in msg, msg


# the data entry of Tetragon's cve-2026-65960.yaml (cred.euid.val of current_task), with
# the comm beside it, on a syscall this host can hook
DATA = """
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "data-current-task"
spec:
  kprobes:
  - call: "sys_getpgid"
    syscall: true
    args:
    - index: 0
      type: int
    data:
    - index: 0
      source: current_task
      type: uint32
      resolve: cred.euid.val
      label: euid
    - index: 1
      source: current_task
      type: string
      resolve: comm
    selectors:
    - matchData:
      - index: 1
        operator: Equal
        values:
        - "datacomm"
"""


def test_data_current_task(agent, tmp_path):
    code = "import ctypes, os; ctypes.CDLL(None).prctl(15, b'datacomm', 0, 0, 0); os.getpgid(0)"
    with Policy(agent, tmp_path, DATA):
        child = subprocess.run([sys.executable, "-c", code])
        os.getpgid(0)  # another comm: filtered out by matchData
        ev = wait_policy_event(agent, "data-current-task")
    assert child.returncode == 0
    assert ev["args"] == [{"int_arg": 0}]
    assert ev["data"] == [{"uint_arg": os.geteuid(), "label": "euid"}, {"string_arg": "datacomm"}]
