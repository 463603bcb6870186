"""USDT probes (spec.usdts): a uprobe at the probe's SDT note, its arguments read as
the note says (registers or memory), and the Set action writing a memory argument.
Uprobes: runs on this host."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from .conftest import ROOT
from .policy_harness import Policy, agent_fixture, tetra, wait_policy_event

SOURCE = ROOT / "tests" / "fixtures" / "usdt" / "usdt_probes.c"


agent = agent_fixture()


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> Path:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler to build the USDT test program")
    out = tmp_path_factory.mktemp("usdt") / "usdt_probes"
    subprocess.run([cc, "-O0", "-o", str(out), str(SOURCE)], check=True)
    return out


def _usdt_event(agent, name: str) -> dict:
    return wait_policy_event(agent, name, kind="process_usdt")


def test_usdt_arguments(agent, tmp_path, program):
    # Tetragon's usdt.yaml, on this test's program and with its arguments
    with Policy(agent, tmp_path, textwrap.dedent(f"""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "usdts"
    spec:
      usdts:
      - path: "{program}"
        provider: "breadth"
        name: "pair"
        args:
        - index: 0
          type: "int32"
        - index: 1
          type: "int64"
        selectors:
        - matchArgs:
          - index: 0
            operator: "Equal"
            values:
            - "13"
    """)):  # fmt: skip
        subprocess.run([str(program), "12"], check=True, capture_output=True)  # filtered out
        run = subprocess.Popen([str(program), "13"], stdout=subprocess.PIPE)
        run.communicate()
        ev = _usdt_event(agent, "usdts")
    assert ev["path"] == str(program) and ev["provider"] == "breadth" and ev["name"] == "pair"
    assert ev["args"] == [{"int_arg": 13}, {"long_arg": "13005"}]
    assert ev["process"]["pid"] == run.pid
    assert ev["action"] == "KPROBE_ACTION_POST"


SET = """
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "usdt-set"
spec:
  usdts:
  - path: "{program}"
    provider: "breadth"
    name: "settable"
    args:
    - index: 0
      type: "int32"
    selectors:
      - matchActions:
        - action: Set
          argIndex: 0
          argValue: 32
"""


def test_usdt_set_memory_argument(agent, tmp_path, program):
    # Tetragon's usdt-set.yaml: Set writes argValue into argument argIndex
    path = tmp_path / "usdt-set.yaml"
    path.write_text(textwrap.dedent(SET.format(program=program)))
    added = tetra(agent, "tracingpolicy", "add", str(path), check=False)
    if added.returncode != 0:
        msg = added.stdout + added.stderr
        # a kernel in lockdown refuses bpf_probe_write_user: the refusal must say so
        assert "bpf_probe_write_user" in msg and "lockdown" in msg, msg
        pytest.skip("this kernel forbids bpf_probe_write_user (lockdown): Set refused, as asked")
    try:
        out = subprocess.run([str(program)], check=True, capture_output=True, text=True)
        ev = _usdt_event(agent, "usdt-set")
    finally:
        tetra(agent, "tracingpolicy", "delete", "usdt-set", check=False)
    assert out.stdout.strip() == "32"  # 7 before the probe
    assert ev["args"] == [{"int_arg": 7}]
    assert ev["action"] == "KPROBE_ACTION_SET"
    plain = subprocess.run([str(program)], check=True, capture_output=True, text=True)
    assert plain.stdout.strip() == "7"  # the policy is gone
