"""Post with kernelStackTrace / userStackTrace: the stacks of the call in the event
(``kernel_stack_trace``, ``user_stack_trace``), named from /proc/kallsyms and the ELF
symbols of the mapped files; addresses only with --expose-stack-addresses. A syscall
hook: runs on this host's tracepoints too."""

from __future__ import annotations

import os
import textwrap

import pytest

from .policy_harness import Policy, policy_agent_fixture, wait_policy_event

MARK = 424242  # getpgid of a pid that does not exist: only this test's calls match


agent = policy_agent_fixture()


def test_kernel_and_user_stack_traces(agent, tmp_path):
    # the action of Tetragon's stack_traces.yaml, on a syscall this host can hook
    with Policy(agent, tmp_path, textwrap.dedent(f"""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "stack-traces"
    spec:
      kprobes:
      - call: "sys_getpgid"
        syscall: true
        args:
        - index: 0
          type: int
        selectors:
        - matchArgs:
          - index: 0
            operator: "Equal"
            values:
            - "{MARK}"
          matchActions:
          - action: Post
            kernelStackTrace: true
            userStackTrace: true
    """)):  # fmt: skip
        with pytest.raises(ProcessLookupError):
            os.getpgid(MARK)
        ev = wait_policy_event(agent, "stack-traces")
    assert ev["args"] == [{"int_arg": MARK}]
    kernel = ev["kernel_stack_trace"]
    assert kernel and all("symbol" in f and "address" not in f for f in kernel)
    assert any("syscall" in f["symbol"] for f in kernel), kernel
    user = ev["user_stack_trace"]
    assert user and "address" not in user[0]
    assert "libc" in user[0]["module"] and "getpgid" in user[0].get("symbol", ""), user[0]
