"""InMap values, raw tracepoint types and matchParentBinaries compile, and bad ones are
refused naming the field."""

from __future__ import annotations

import os
import shutil
import textwrap

import pytest

from appliance.policy.compiler import compile_policy
from appliance.policy.emit import generate
from appliance.policy.manager import parse_policy
from appliance.policy.plan import AllFeatures, PolicyError, plan_policy

needs_clang = pytest.mark.skipif(shutil.which("clang") is None, reason="clang not installed")
needs_btf = pytest.mark.skipif(
    not os.path.exists("/sys/kernel/btf/vmlinux"), reason="this kernel exposes no BTF"
)

INMAP = """
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "inmap"
spec:
  lists:
  - name: "dups"
    type: "syscalls"
    values: ["sys_dup", "dup2", "x64/sys_dup3"]
  kprobes:
  - call: "sys_lseek"
    syscall: true
    args:
    - index: 0
      type: "int"
    - index: 1
      type: "uint64"
    selectors:
    - matchArgs:
      - index: 0
        operator: "InMap"
        values: [VALUES]
      - index: 1
        operator: "NotInMap"
        values: ["list:dups", "18446744073709551615"]
      matchParentBinaries:
      - operator: "Postfix"
        followChildren: true
        values: ["/sh"]
"""


def _plans(values: str):
    return plan_policy(parse_policy(textwrap.dedent(INMAP.replace("VALUES", values))),
                       AllFeatures())  # fmt: skip


@needs_clang
def test_short_list_inline_long_list_in_a_map(tmp_path):
    plans = _plans('"1", "2", "-3"')
    src = generate(plans)
    assert "BPF_MAP_TYPE_HASH" not in src and "18446744073709551613ULL" in src
    assert "parbinsel_" in src
    compile_policy(src, str(tmp_path))
    plans = _plans(", ".join(f'"{i}"' for i in range(100, 200)))
    src = generate(plans)
    assert list(plans[0].value_maps.values()) == [list(range(100, 200))]
    assert "max_entries, 100)" in src
    compile_policy(src, str(tmp_path))


def test_syscall_names_of_a_list_become_numbers():
    plans = _plans('"7"')
    generate(plans)
    src = generate(plans)
    # x86_64 numbers of dup, dup2, dup3 and the all-ones uint64, inline (4 values)
    if os.uname().machine == "x86_64":
        for v in ("32ULL", "33ULL", "292ULL", "18446744073709551615ULL"):
            assert v in src


def test_unknown_list_and_foreign_abi_refused():
    with pytest.raises(PolicyError, match=r"matchArgs\[0\].values\[0\]: list 'nope'"):
        generate(_plans('"list:nope"'))
    bad = INMAP.replace('"x64/sys_dup3"', '"i386/sys_dup3"').replace("VALUES", '"1"')
    with pytest.raises(PolicyError, match="i386 ABI"):
        generate(plan_policy(parse_policy(textwrap.dedent(bad)), AllFeatures()))


RAWTP = """
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "rawtp"
spec:
  tracepoints:
  - subsystem: "sched"
    event: "sched_process_exec"
    raw: true
    args:
    - index: INDEX
      type: "linux_binprm"
"""


@needs_btf
@needs_clang
def test_raw_tracepoint_typed_from_btf(tmp_path):
    plans = plan_policy(parse_policy(RAWTP.replace("INDEX", "2")), AllFeatures())
    assert plans[0].section == "tp_btf/sched_process_exec"
    compile_policy(generate(plans), str(tmp_path))
    with pytest.raises(PolicyError, match=r"args\[0\].type: .*struct linux_binprm \*.*pid_t"):
        plan_policy(parse_policy(RAWTP.replace("INDEX", "1")), AllFeatures())
    with pytest.raises(PolicyError, match=r"args\[0\].index: .* has 3 arguments"):
        plan_policy(parse_policy(RAWTP.replace("INDEX", "5")), AllFeatures())
