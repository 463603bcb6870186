"""What the engine refuses on any kernel (appliance.policy.support): each part of a hook
planned against a kernel with every feature, with the YAML path and the reason."""

from __future__ import annotations

import pytest

from appliance.errors import PolicyError
from appliance.policy.model import TracingPolicy
from appliance.policy.plan import AllFeatures, plan_policy


def _kp(**kw) -> dict:
    return {"call": "security_file_open", "syscall": False, **kw}


def _arg(t: str, i: int = 0, **kw) -> dict:
    return {"index": i, "type": t, **kw}


def _sel(**kw) -> list[dict]:
    return [dict(kw)]


_RET = {"return": True, "returnArg": _arg("int")}
_DATA = [_arg("int", source="current_task", resolve="pid")]
CASES = {
    "spec.usdts: USDT probes are not supported yet": {
        "usdts": [{"path": "/bin/sh", "provider": "p", "name": "n"}]
    },
    "spec.killers: killers (NotifyEnforcer) are not supported yet": {
        "killers": [{"calls": ["sys_openat"]}],
        "kprobes": [{"call": "sys_openat", "syscall": True}],
    },
    "spec.kprobes[0].call: list patterns are not supported yet": {
        "lists": [{"name": "l", "type": "syscalls", "pattern": "open.*"}],
        "kprobes": [{"call": "list:l", "syscall": True}],
    },
    "spec.uprobes[0]: uprobes by offset/address not supported yet": {
        "uprobes": [{"path": "/bin/sh", "offsets": [10]}]
    },
    "spec.uprobes[0].return: return uprobes are not supported yet": {
        "uprobes": [{"path": "/bin/sh", "symbols": ["main"], "return": True}]
    },
    "spec.kprobes[0].args[0].type: 'auto' needs BTF argument resolution": {
        "kprobes": [_kp(args=[_arg("auto")])]
    },
    "spec.kprobes[0].args[0].returnCopy: not supported yet": {
        "kprobes": [_kp(args=[_arg("char_buf", returnCopy=True)])]
    },
    "spec.kprobes[0].data: not supported yet": {"kprobes": [_kp(**_RET, data=_DATA)]},
    "spec.fentries[0].data: not supported yet": {
        "fentries": [{"call": "security_file_open", "data": _DATA}]
    },
    "spec.kprobes[0]: Override together with return is not supported yet": {
        "kprobes": [_kp(**_RET, selectors=_sel(matchActions=[{"action": "Override"}]))]
    },
    "spec.fentries[0].returnArg.type: 'string' return values not supported": {
        "fentries": [{"call": "security_file_open", "return": True, "returnArg": _arg("string")}]
    },
    "spec.kprobes[0].return: return values of all syscalls are not supported": {
        "lists": [{"name": "l", "type": "generated_syscalls"}],
        "kprobes": [{"call": "list:l", "syscall": True, "return": True}],
    },
    "spec.kprobes[0].selectors[0].matchReturnArgs[0].operator: Prefix is not supported on "
    "return values in this engine": {
        "kprobes": [
            _kp(**_RET, selectors=_sel(matchReturnArgs=[{"operator": "Prefix", "values": ["a"]}]))
        ]
    },
    "spec.kprobes[0].selectors[0].matchData: not supported yet": {
        "kprobes": [
            _kp(selectors=_sel(matchData=[{"index": 0, "operator": "Equal", "values": ["1"]}]))
        ]
    },
    "spec.kprobes[0].selectors[0].matchActions[0].action: NotifyEnforcer is not supported yet": {
        "kprobes": [_kp(selectors=_sel(matchActions=[{"action": "NotifyEnforcer"}]))]
    },
    "spec.kprobes[0].selectors[0].matchActions[0]: stack traces and IMA hashes are not "
    "supported yet": {
        "kprobes": [
            _kp(selectors=_sel(matchActions=[{"action": "Post", "kernelStackTrace": True}]))
        ]
    },
    "spec.kprobes[0].selectors[0].matchArgs[0].operator: GT is not supported on a 'file' "
    "argument in this engine": {
        "kprobes": [
            _kp(
                args=[_arg("file")],
                selectors=_sel(matchArgs=[{"index": 0, "operator": "GT", "values": ["1"]}]),
            )
        ]
    },
    "spec.kprobes[0].selectors[0].matchArgs[0].values: Postfix values longer than 1022 bytes": {
        "kprobes": [
            _kp(
                args=[_arg("file")],
                selectors=_sel(
                    matchArgs=[{"index": 0, "operator": "Postfix", "values": ["x" * 1023]}]
                ),
            )
        ]
    },
}


@pytest.mark.parametrize("message", list(CASES))
def test_refused_whatever_the_kernel(message):
    doc = {
        "apiVersion": "cilium.io/v1alpha1",
        "kind": "TracingPolicy",
        "metadata": {"name": "refused"},
        "spec": CASES[message],
    }
    policy = TracingPolicy.model_validate(doc)
    with pytest.raises(PolicyError) as e:
        plan_policy(policy, AllFeatures(), offline=True)
    assert str(e.value) == message


def test_inmap_on_an_integer_argument_is_planned():
    doc = {
        "apiVersion": "cilium.io/v1alpha1",
        "kind": "TracingPolicy",
        "metadata": {"name": "planned"},
        "spec": {
            "kprobes": [
                _kp(
                    args=[_arg("int")],
                    selectors=_sel(matchArgs=[{"index": 0, "operator": "InMap", "values": ["1"]}]),
                )
            ]
        },
    }
    plans = plan_policy(TracingPolicy.model_validate(doc), AllFeatures(), offline=True)
    assert [p.name for p in plans] == ["security_file_open"]
