"""matchParentBinaries: the binary the parent process executed, tested in the kernel."""

from __future__ import annotations

import os
import subprocess

from .policy_harness import PY, Policy, policy_agent_fixture

SH = os.path.realpath("/bin/sh")


agent = policy_agent_fixture()


POLICY = f"""
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "parent-binaries"
spec:
  kprobes:
  - call: "sys_lseek"
    syscall: true
    args:
    - index: 0
      type: "int"
    selectors:
    - matchArgs:
      - index: 0
        operator: "Equal"
        values: ["9999"]
      matchParentBinaries:
      - operator: "In"
        values: ["{SH}"]
    - matchArgs:
      - index: 0
        operator: "Equal"
        values: ["9998"]
      matchParentBinaries:
      - operator: "NotPrefix"
        values: ["{SH}", "/nonexistent/"]
"""


def _events(agent) -> list[dict]:
    return [e["process_kprobe"] for e in agent.events()
            if e.get("process_kprobe", {}).get("policy_name") == "parent-binaries"]  # fmt: skip


def test_match_parent_binaries(agent, tmp_path):
    lseek = (
        "import os\nfor fd in (9999, 9998):\n    try: os.lseek(fd, 0, 0)\n    except OSError: pass"
    )
    with Policy(agent, tmp_path, POLICY):
        # under a shell (sh forks: the command is not the last one), then straight from here
        subprocess.run([SH, "-c", f'"{PY}" -c "$0"; true', lseek], check=True)
        direct = subprocess.Popen([PY, "-c", lseek])
        direct.wait()
        under_sh = agent.wait_for(
            lambda e: (
                e.get("process_kprobe", {}).get("policy_name") == "parent-binaries"
                and e["process_kprobe"].get("parent", {}).get("binary") == SH
            )
        )["process_kprobe"]
        assert under_sh["args"] == [{"int_arg": 9999}]
        assert under_sh["process"]["binary"] == PY
        mine = agent.wait_for(
            lambda e: e.get("process_kprobe", {}).get("process", {}).get("pid") == direct.pid
        )["process_kprobe"]
        assert mine["args"] == [{"int_arg": 9998}]  # the parent is this test's interpreter
        assert mine["parent"]["binary"] != SH
        seen = {(e["parent"].get("binary") == SH, e["args"][0]["int_arg"])
                for e in _events(agent) if e["process"]["binary"] == PY}  # fmt: skip
        assert seen == {(True, 9999), (False, 9998)}
