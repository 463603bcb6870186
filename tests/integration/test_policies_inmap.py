"""InMap / NotInMap on integer arguments: Tetragon's syscall-list example and 10 000 values."""

from __future__ import annotations

import subprocess
import textwrap

from .policy_harness import PY, Policy, agent_fixture, tetra

agent = agent_fixture()


# Tetragon's examples/tracingpolicy/list-syscalls-tracepoint.yaml, unchanged: it has a warning
# (the list holds syscalls, the argument is uint64), and a warning never refuses a policy
LIST_SYSCALLS = """
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "list-syscalls-tracepoint"
spec:
  lists:
  - name: "dups"
    type: "syscalls"
    values:
    - "sys_dup"
    - "sys_dup2"
  tracepoints:
  - subsystem: "raw_syscalls"
    event: "sys_enter"
    args:
    - index: 4
      type: "uint64"
    selectors:
    - matchArgs:
      - index: 4
        operator: "InMap"
        values:
        - "list:dups"
"""


def _tracepoint_events(agent, policy: str, pid: int) -> list[dict]:
    return [e["process_tracepoint"] for e in agent.events()
            if e.get("process_tracepoint", {}).get("policy_name") == policy
            and e["process_tracepoint"]["process"].get("pid") == pid]  # fmt: skip


def test_inmap_syscall_list_on_raw_syscalls(agent, tmp_path):
    path = tmp_path / "list-syscalls-tracepoint.yaml"
    path.write_text(LIST_SYSCALLS)
    check = tetra(agent, "tracingpolicy", "validate", str(path), check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "syscall64" in check.stdout + check.stderr  # the warning is reported
    with Policy(agent, tmp_path, LIST_SYSCALLS):
        code = "import ctypes, os, sys; sys.stdin.read(); os.dup2(0, 9); "
        code += "ctypes.CDLL(None).dup3(0, 8, 0)"
        child = subprocess.Popen([PY, "-c", code], stdin=subprocess.PIPE)
        child.communicate(b"")
        assert child.returncode == 0
        ev = agent.wait_for(
            lambda e: (
                e.get("process_tracepoint", {}).get("process", {}).get("pid") == child.pid
                and e["process_tracepoint"]["args"] == [{"size_arg": "33"}]
            )
        )["process_tracepoint"]
        assert ev["subsys"] == "raw_syscalls" and ev["event"] == "sys_enter"
        assert ev["policy_name"] == "list-syscalls-tracepoint"
        assert ev["action"] == "KPROBE_ACTION_POST"
        ids = sorted(a["size_arg"] for e in _tracepoint_events(agent, ev["policy_name"],
                     child.pid) for a in e["args"])  # fmt: skip
        assert set(ids) == {"33"}  # dup2 (a uint64 is a string in JSON); not dup3 nor the rest


def _big_inmap_policy(n: int) -> str:
    values = "\n".join(f"        - {100000 + i}" for i in range(n))
    return textwrap.dedent("""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "inmap-10000"
    spec:
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
            values:
    VALUES
          - index: 1
            operator: "NotInMap"
            values:
            - "7"
            - "9223372036854775813"
    """).replace("VALUES", values)


def test_inmap_10000_values_and_uint64_notinmap(agent, tmp_path):
    with Policy(agent, tmp_path, _big_inmap_policy(10000)):
        code = textwrap.dedent("""
        import os
        for fd, off in ((100500, 5), (109999, 2**63 + 6 - 2**64), (99999, 5), (110000, 5),
                        (100500, 7), (100500, 2**63 + 5 - 2**64)):
            try:
                os.lseek(fd, off, 0)
            except OSError:
                pass
        """)
        child = subprocess.Popen([PY, "-c", code], stderr=subprocess.PIPE, text=True)
        _, err = child.communicate()
        assert child.returncode == 0, err
        ev = agent.wait_for(
            lambda e: (
                e.get("process_kprobe", {}).get("policy_name") == "inmap-10000"
                and e["process_kprobe"]["process"]["pid"] == child.pid
                and e["process_kprobe"]["args"][0] == {"int_arg": 109999}
            )
        )["process_kprobe"]
        assert ev["args"] == [{"int_arg": 109999}, {"size_arg": str(2**63 + 6)}]
        got = [e["process_kprobe"]["args"] for e in agent.events()
               if e.get("process_kprobe", {}).get("policy_name") == "inmap-10000"
               and e["process_kprobe"]["process"]["pid"] == child.pid]  # fmt: skip
        assert got == [[{"int_arg": 100500}, {"size_arg": "5"}],
                       [{"int_arg": 109999}, {"size_arg": str(2**63 + 6)}]]  # fmt: skip
