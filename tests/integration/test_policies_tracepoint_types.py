"""Tracepoint arguments without `type:` take the type of the format field they index,
as in Tetragon's raw_syscalls.yaml: `long id` a long, `unsigned long args[6]` copied
whole and reported one size_arg per element."""

from __future__ import annotations

import platform
import textwrap

from .policy_harness import Policy, agent_fixture, py, wait_policy_event

agent = agent_fixture()

# raw_syscalls.yaml, filtered to one process's lseek calls with a marker offset
POLICY = textwrap.dedent("""
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "raw-syscalls"
spec:
  tracepoints:
  - subsystem: "raw_syscalls"
    event: "sys_enter"
    args:
    - index: 4
    - index: 5
    selectors:
    - matchArgs:
      - index: 4
        operator: "Equal"
        values:
        - "{nr}"
""")

LSEEK_NR = {"x86_64": 8, "aarch64": 62}.get(platform.machine(), 8)


def test_types_come_from_the_format(agent, tmp_path):
    with Policy(agent, tmp_path, POLICY.replace("{nr}", str(LSEEK_NR))):
        out = py("import os\nos.lseek(0, 777123, 0)")
        ev = wait_policy_event(
            agent, "raw-syscalls",
            lambda b: len(b.get("args", [])) == 7 and b["args"][2] == {"size_arg": "777123"},
            kind="process_tracepoint",
        )  # fmt: skip
    assert out.returncode == 0, out.stderr
    args = ev["args"]
    assert args[0] == {"long_arg": str(LSEEK_NR)}  # the syscall's number
    assert args[1] == {"size_arg": "0"}  # fd
    assert args[3] == {"size_arg": "0"}  # whence
    assert all(set(a) == {"size_arg"} for a in args[1:])
