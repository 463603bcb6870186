"""matchParentBinaries: the binary the parent process executed, tested in the kernel."""

from __future__ import annotations

import os
import subprocess

from .policy_harness import PY, Policy, agent_fixture, arg_selector, policy_yaml

SH = os.path.realpath("/bin/sh")


agent = agent_fixture()


IN_SH = f'matchParentBinaries:\n- operator: "In"\n  values: ["{SH}"]'
NOT_SH = f'matchParentBinaries:\n- operator: "NotPrefix"\n  values: ["{SH}", "/nonexistent/"]'
POLICY = policy_yaml(
    "parent-binaries", "sys_lseek", ["int"],
    arg_selector(0, "Equal", 9999, then=IN_SH) + arg_selector(0, "Equal", 9998, then=NOT_SH),
)  # fmt: skip


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
