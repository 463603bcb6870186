"""Post with kernelStackTrace / userStackTrace: the stacks of the call in the event
(``kernel_stack_trace``, ``user_stack_trace``), named from /proc/kallsyms and the ELF
symbols of the mapped files; addresses only with --expose-stack-addresses. A syscall
hook: runs on this host's tracepoints too."""

from __future__ import annotations

import os

import pytest

from .policy_harness import (
    Policy,
    agent_fixture,
    arg_selector,
    policy_yaml,
    wait_policy_event,
)

MARK = 424242  # getpgid of a pid that does not exist: only this test's calls match

STACKS = "matchActions:\n- action: Post\n  kernelStackTrace: true\n  userStackTrace: true"

agent = agent_fixture()


def test_kernel_and_user_stack_traces(agent, tmp_path):
    # the action of Tetragon's stack_traces.yaml, on a syscall this host can hook
    selector = arg_selector(0, "Equal", MARK, then=STACKS)
    policy = policy_yaml("stack-traces", "sys_getpgid", ["int"], selector)
    with Policy(agent, tmp_path, policy):
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
