"""Uprobes by symbol, file offset (`offsets`) and ELF address (`addrs`), return uprobes
(`return: true`: a uretprobe on the same place reports `returnArg` and filters on it with
matchReturnArgs), and Override and Regs, which write the traced program's registers:
where the kernel lets uprobe programs do so (the newer tests/vm kernels), the function is
skipped or its argument changed; elsewhere the policy is refused with the reason. Runs on
this host: uprobes need no kprobes."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from appliance.bpf.elf import elf_symbol_offset

from .conftest import ROOT
from .policy_harness import Policy, agent_fixture, tetra, wait_policy_event

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


def _uprobe_regs_ok() -> bool:
    """The agent's own probe: a uprobe program writing its context's registers loads."""
    try:
        from appliance.bpf.features import _try_load
        from appliance.bpf.paths import bpf_lib

        return _try_load(os.path.join(bpf_lib(), "probes.bpf.o"), "probe_uprobe_regs", "")
    except Exception:
        return False


REGS_OK = _uprobe_regs_ok()
ARM64 = platform.machine() in ("aarch64", "arm64")
FIRST_ARG = "x0" if ARM64 else "rdi"

OVERRIDE = """
selectors:
- matchArgs:
  - index: 0
    operator: "Equal"
    values:
    - "7"
  matchActions:
  - action: Override
    argError: 99
"""

REGS = f"""
selectors:
- matchArgs:
  - index: 0
    operator: "Equal"
    values:
    - "4"
  matchActions:
  - action: Regs
    argReg:
    - "{FIRST_ARG}:5"
"""


@pytest.mark.skipif(not REGS_OK, reason="this kernel's uprobe programs cannot write registers")
def test_override_returns_at_once(agent, tmp_path, program):
    with Policy(agent, tmp_path, _policy("uprobe-override", program, 'symbols: ["scaled"]',
                                         OVERRIDE)):  # fmt: skip
        spared = _run(program, 2)
        out = _run(program, 7)
        ev = wait_policy_event(agent, "uprobe-override", kind="process_uprobe")
    assert spared.stdout.strip() == "6"  # another argument: the function ran
    assert out.stdout.strip() == "99"  # not 21: it returned argError without running
    assert ev["action"] == "KPROBE_ACTION_OVERRIDE"
    assert ev["args"] == [{"int_arg": 7}]
    assert _run(program, 7).stdout.strip() == "21"  # the policy is gone


@pytest.mark.skipif(not REGS_OK, reason="this kernel's uprobe programs cannot write registers")
def test_regs_sets_the_argument_register(agent, tmp_path, program):
    with Policy(agent, tmp_path, _policy("uprobe-regs", program, 'symbols: ["scaled"]', REGS)):
        out = _run(program, 4)
        ev = wait_policy_event(agent, "uprobe-regs", kind="process_uprobe")
    assert out.stdout.strip() == "15"  # scaled(5), not scaled(4)
    assert ev["args"] == [{"int_arg": 4}]  # as the probe found it
    assert ev["action"] == "KPROBE_ACTION_POST"


@pytest.mark.skipif(REGS_OK, reason="this kernel lets uprobe programs write registers")
def test_register_writes_refused_where_the_kernel_lacks_them(agent, tmp_path, program):
    path = tmp_path / "override.yaml"
    path.write_text(_policy("uprobe-override", program, 'symbols: ["scaled"]', OVERRIDE))
    out = tetra(agent, "tracingpolicy", "add", str(path), check=False)
    assert out.returncode != 0
    assert "refuses uprobe programs that write them" in out.stderr, out.stderr
    assert "uprobe-override" not in tetra(agent, "tracingpolicy", "list").stdout
    assert _run(program, 7).stdout.strip() == "21"
