"""Uprobes by symbol, file offset (`offsets`) and ELF address (`addrs`), and return
uprobes (`return: true`: a uretprobe on the same place reports `returnArg` and filters
on it with matchReturnArgs). Runs on this host: uprobes need no kprobes."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from appliance.bpf.elf import elf_symbol_offset

from .conftest import ROOT
from .policy_harness import Policy, agent_fixture, wait_policy_event

SOURCE = ROOT / "tests" / "fixtures" / "uprobe" / "uprobe_target.c"

agent = agent_fixture()


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> Path:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler to build the uprobe test program")
    out = tmp_path_factory.mktemp("uprobe") / "uprobe_target"
    subprocess.run([cc, "-O0", "-o", str(out), str(SOURCE)], check=True)
    return out


def _symbol_address(program: Path, symbol: str) -> int:
    """The symbol's virtual address as `nm` prints it (binutils comes with the compiler)."""
    out = subprocess.run(["nm", str(program)], capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == symbol:
            return int(parts[0], 16)
    raise AssertionError(f"no {symbol} in nm {program}")


def _policy(name: str, program: Path, target: str, extra: str = "") -> str:
    return textwrap.dedent(f"""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "{name}"
    spec:
      uprobes:
      - path: "{program}"
        {target}
        args:
        - index: 0
          type: "int"
    """) + textwrap.indent(textwrap.dedent(extra), "    ")  # fmt: skip


def _run(program: Path, n: int) -> subprocess.CompletedProcess:
    return subprocess.run([str(program), str(n)], capture_output=True, text=True, check=True)


def test_return_uprobe_reports_and_filters_the_return_value(agent, tmp_path, program):
    extra = """
    return: true
    returnArg:
      index: 0
      type: "int"
    selectors:
    - matchReturnArgs:
      - operator: "Equal"
        values:
        - "21"
    """
    with Policy(agent, tmp_path, _policy("uretprobe", program, 'symbols: ["scaled"]', extra)):
        assert _run(program, 2).stdout.strip() == "6"  # returns 6: filtered out
        out = _run(program, 7)
        ev = wait_policy_event(agent, "uretprobe", kind="process_uprobe")
    assert out.stdout.strip() == "21"
    assert ev["symbol"] == "scaled" and ev["path"] == str(program)
    assert ev["args"] == [{"int_arg": 7}]
    assert ev["return"] == {"int_arg": 21}
    assert ev["action"] == "KPROBE_ACTION_POST"


def test_uprobe_by_file_offset(agent, tmp_path, program):
    off = elf_symbol_offset(str(program), "scaled")
    assert off
    with Policy(agent, tmp_path, _policy("uprobe-offset", program, f"offsets: [{off}]")):
        _run(program, 5)
        ev = wait_policy_event(
            agent, "uprobe-offset", lambda b: b.get("args") == [{"int_arg": 5}],
            kind="process_uprobe",
        )  # fmt: skip
    assert ev["offset"] == str(off) and "symbol" not in ev
    assert ev["path"] == str(program)


def test_uprobe_by_address(agent, tmp_path, program):
    addr = _symbol_address(program, "scaled")
    off = elf_symbol_offset(str(program), "scaled")
    with Policy(agent, tmp_path, _policy("uprobe-addr", program, f"addrs: [{addr:#x}]")):
        _run(program, 9)
        ev = wait_policy_event(
            agent, "uprobe-addr", lambda b: b.get("args") == [{"int_arg": 9}],
            kind="process_uprobe",
        )  # fmt: skip
    assert ev["offset"] == str(off)  # the address, through its PT_LOAD segment
