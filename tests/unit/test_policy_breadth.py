"""Planning of the later policy features, without a kernel: USDT argument specs, the
enforcer's attach method per kernel, and refusals that name the missing feature."""

from __future__ import annotations

import textwrap

import pytest

from appliance.errors import PolicyError
from appliance.policy.manager import parse_policy
from appliance.policy.plan import AllFeatures, plan_policy
from appliance.policy.usdt import UsdtArg, UsdtError, fetch_c, parse_arg


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ("-4@%edi", UsdtArg(4, True, "reg", "di")),
        ("8@%r12", UsdtArg(8, False, "reg", "r12")),
        ("-4@-20(%rbp)", UsdtArg(4, True, "mem", "bp", -20)),
        ("8@(%rax)", UsdtArg(8, False, "mem", "ax", 0)),
        ("4@$7", UsdtArg(4, False, "imm", "", 7)),
    ],
)
def test_usdt_argument_specs(spec, want):
    assert parse_arg(spec) == want


def test_usdt_unknown_location_refused():
    with pytest.raises(UsdtError, match="not supported"):
        parse_arg("8@sym(%rip)x")
    assert "ctx->bp + (-20LL)" in fetch_c(UsdtArg(4, True, "mem", "bp", -20))


ENFORCER = textwrap.dedent("""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "enforce"
    spec:
      kprobes:
      - call: "security_socket_connect"
        syscall: false
        selectors:
        - matchActions:
          - action: NotifyEnforcer
            argError: -1
      enforcers:
      - calls:
        - "security_socket_connect"
        - "sys_dup"
    """)


class NoOverride(AllFeatures):
    override_return = False


class NoHooks(AllFeatures):
    kprobes = fentry = fmod_ret = override_return = lsm_active = lsm_prog = False


def test_enforcer_methods():
    plans = plan_policy(parse_policy(ENFORCER), AllFeatures(), offline=True)
    enf = [(p.function_name, p.method) for p in plans if p.kind == "enforcer"]
    assert enf[0] == ("security_socket_connect", "fmod_ret")
    assert enf[1][1] == "kprobe" and enf[1][0].endswith("sys_dup")


def test_enforcer_error_without_override_names_the_feature():
    with pytest.raises(PolicyError) as e:
        plan_policy(parse_policy(ENFORCER), NoOverride(), offline=True)
    assert "spec.enforcers[0].calls" in str(e.value) and "bpf_override_return" in str(e.value)


def test_signal_only_enforcer_on_sys_exit_without_kprobes():
    text = (
        ENFORCER.replace("argError: -1", "argSig: 9")
        .replace('        - "security_socket_connect"\n        - "sys_dup"', '        - "sys_dup"')
        .replace("security_socket_connect", "sys_dup")
        .replace("syscall: false", "syscall: true")
    )
    plans = plan_policy(parse_policy(text), NoHooks(), offline=True)
    enf = [p for p in plans if p.kind == "enforcer"]
    assert enf[0].section == "tracepoint/syscalls/sys_exit_dup"


def test_signal_only_enforcer_after_the_call_with_kprobes():
    # a kprobe runs before a BPF trampoline on the same function: an entry enforcer
    # would miss the note of the fentry hook; after the call it sees it
    text = ENFORCER.replace("argError: -1", "argSig: 9").replace(
        '    - "sys_dup"', '    - "sys_dup"\n    - "fd_install"'
    )
    plans = plan_policy(parse_policy(text), AllFeatures(), offline=True)
    enf = {p.function_name: p for p in plans if p.kind == "enforcer"}
    assert enf["security_socket_connect"].method == "fmod_ret"
    dup = next(p for fn, p in enf.items() if fn.endswith("sys_dup"))
    assert dup.section == "tracepoint/syscalls/sys_exit_dup"
    assert enf["fd_install"].section == "kretprobe/fd_install"
