"""--enable-ancestors: exec, exit and policy events carry the ancestors beyond the parent,
nearest first, up to init, each the parent of the one before."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from itertools import pairwise

import pytest

from .conftest import ROOT, RunningAgent, _clean_env, exec_of, exit_of

POLICY = """\
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "lseek-ancestors"
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
        values:
        - "4242"
"""


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    d = tmp_path_factory.mktemp("ancestors-agent")
    a = RunningAgent(
        d, ["--enable-ancestors", "base,kprobe", "--policy-cache-dir", str(d / "cache")]
    )
    yield a
    a.stop()


def assert_chain(body: dict) -> None:
    """parent -> ancestors[0] -> ... : each the parent of the one before, ending at init."""
    chain = [body["parent"], *body["ancestors"]]
    for child, parent in pairwise(chain):
        assert child["parent_exec_id"] == parent["exec_id"]
    assert chain[-1]["pid"] in (1, 2)
    assert all(a["pid"] > 2 for a in chain[:-1])


def test_exec_and_exit_carry_the_ancestors(agent):
    marker = f"anc-{time.time_ns()}"
    # builtins last: sh does not exec its last command in its own place
    inner = f"/bin/true {marker}; :"
    subprocess.run(["/bin/sh", "-c", f"/bin/sh -c '{inner}'; :"], check=True)
    ex = agent.wait_for(exec_of("/bin/true", marker))["process_exec"]
    assert ex["parent"]["binary"].endswith("sh") and inner in ex["parent"]["arguments"]
    outer = ex["ancestors"][0]
    assert outer["binary"].endswith("sh") and inner in outer["arguments"]
    assert ex["ancestors"][1]["pid"] == os.getpid()  # this test's Python
    assert_chain(ex)
    end = agent.wait_for(exit_of("/bin/true", marker))["process_exit"]
    assert [a["exec_id"] for a in end["ancestors"]] == [a["exec_id"] for a in ex["ancestors"]]
    assert list(end)[-1] == "ancestors"  # field 6 of ProcessExit, after time


def test_policy_events_carry_them_when_asked(agent, tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    tetra = [sys.executable, "-m", "appliance.cli.tetra", "--server-address", agent.address]
    env = _clean_env()
    out = subprocess.run([*tetra, "tracingpolicy", "add", str(path)], cwd=ROOT, env=env)
    assert out.returncode == 0
    try:
        code = "import os\ntry:\n    os.lseek(4242, 0, 0)\nexcept OSError:\n    pass"
        subprocess.run(["/bin/sh", "-c", f"{sys.executable} -c '{code}'; :"], check=True)
        ev = agent.wait_for(lambda e: "process_kprobe" in e)["process_kprobe"]
        assert ev["policy_name"] == "lseek-ancestors"
        assert ev["parent"]["binary"].endswith("sh")
        assert_chain(ev)
    finally:
        subprocess.run([*tetra, "tracingpolicy", "delete", "lseek-ancestors"], cwd=ROOT, env=env)


def test_ancestors_need_base(tmp_path):
    with pytest.raises(RuntimeError) as e:
        RunningAgent(tmp_path, ["--enable-ancestors", "kprobe"])
    assert "'base' is needed by the other event types" in str(e.value)
