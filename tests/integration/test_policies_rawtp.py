"""Raw tracepoints (`raw: true`): tp_btf programs whose args are typed from the kernel's BTF."""

from __future__ import annotations

import os
import subprocess
import textwrap

import pytest

from .policy_harness import Policy, agent_fixture, arg_selector, policy_yaml, tetra

TRUE = os.path.realpath("/bin/true")


agent = agent_fixture()


# Tetragon's examples/tracingpolicy/rawtp.yaml, as a `tracepoints` entry with raw: true
RAWTP = policy_yaml(
    "rawtp", "sched/sched_process_exec", [(2, "linux_binprm")], arg_selector(2, "Equal", TRUE),
    hook="tracepoints", syscall=None, call_extra="raw: true",
)  # fmt: skip


# The same, as Tetragon's rawtp.yaml example writes it: the draft `spec.rawtracepoints`
DRAFT = (
    RAWTP.replace("tracepoints:", "rawtracepoints:", 1).replace("raw: true", "")
    .replace('name: "rawtp"', 'name: "rawtp-draft"')
)  # fmt: skip


@pytest.mark.parametrize(("name", "text"), [("rawtp", RAWTP), ("rawtp-draft", DRAFT)])
def test_raw_tracepoint_linux_binprm(agent, tmp_path, name, text):
    with Policy(agent, tmp_path, text):
        listed = tetra(agent, "tracingpolicy", "list").stdout
        assert "tp_btf" in listed, listed
        child = subprocess.Popen([TRUE])
        child.wait()
        subprocess.run(["/bin/sh", "-c", ":"], check=True)  # another exec: filtered out
        ev = agent.wait_for(
            lambda e: (
                e.get("process_tracepoint", {}).get("policy_name") == name
                and e["process_tracepoint"]["process"]["pid"] == child.pid
            )
        )["process_tracepoint"]
        assert ev["subsys"] == "sched" and ev["event"] == "sched_process_exec"
        assert ev["args"] == [{"linux_binprm_arg": {"path": TRUE}}]
        assert ev["process"]["binary"] == TRUE
        assert ev["action"] == "KPROBE_ACTION_POST"
        evs = [e for e in agent.events()
               if e.get("process_tracepoint", {}).get("policy_name") == name]  # fmt: skip
        assert all(e["process_tracepoint"]["args"][0]["linux_binprm_arg"]["path"] == TRUE
                   for e in evs)  # fmt: skip


def test_raw_tracepoint_type_checked_against_btf(agent, tmp_path):
    bad = RAWTP.replace('name: "rawtp"', 'name: "rawtp-bad"').replace("index: 2", "index: 1")
    path = tmp_path / "rawtp-bad.yaml"
    path.write_text(textwrap.dedent(bad))
    out = tetra(agent, "tracingpolicy", "add", str(path), check=False)
    assert out.returncode != 0
    msg = out.stdout + out.stderr
    assert "spec.tracepoints[0].args[0].type" in msg and "pid_t" in msg, msg
