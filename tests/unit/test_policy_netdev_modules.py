"""`net_device` and `load_info` arguments: what the planner accepts and refuses (with the
YAML path), how the checker groups their operators, and how their slots decode into
Tetragon's fields (string_arg; module_arg with name, signature_ok and tainted)."""

from __future__ import annotations

import struct

import pytest

from appliance.errors import PolicyError
from appliance.policy import decode
from appliance.policy.checker import check_policy
from appliance.policy.manager import parse_policy
from appliance.policy.plan import AllFeatures, plan_policy

POLICY = """
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "p"
spec:
  kprobes:
  - call: "{call}"
    syscall: {syscall}
    args:
    - index: 0
      type: "{type}"
{selectors}
"""


def _sel(op: str, *values: str) -> str:
    vals = ", ".join(f'"{v}"' for v in values)
    return (
        "    selectors:\n    - matchArgs:\n      - index: 0\n"
        f'        operator: "{op}"\n        values: [{vals}]'
    )


def _plan(t: str, selectors: str = "", call: str = "dev_set_mtu", syscall: str = "false"):
    text = POLICY.format(call=call, syscall=syscall, type=t, selectors=selectors)
    return plan_policy(parse_policy(text), AllFeatures())


@pytest.mark.parametrize(
    "op", ["Equal", "NotEqual", "Prefix", "NotPrefix", "Postfix", "NotPostfix"]
)
def test_net_device_takes_the_string_operators(op):
    (plan,) = _plan("net_device", _sel(op, "eth0"))
    assert [a.type for a in plan.args] == ["net_device"] and plan.nslots == 1


@pytest.mark.parametrize(
    "selectors, where, why",
    [
        (_sel("InMap", "lo"), "matchArgs[0].operator", "compared by its name"),
        (_sel("DPort", "53"), "matchArgs[0].operator", "not DPort"),
        (_sel("Equal", "x" * 16), "matchArgs[0].values[0]", "longer than a device name"),
    ],
)
def test_net_device_refusals_name_the_path(selectors, where, why):
    with pytest.raises(PolicyError) as e:
        _plan("net_device", selectors)
    msg = str(e.value)
    assert msg.startswith(f"spec.kprobes[0].selectors[0].{where}:") and why in msg, msg


def test_load_info_is_reported_not_filtered():
    (plan,) = _plan("load_info", call="check_modstruct_version")
    assert [a.type for a in plan.args] == ["load_info"]
    with pytest.raises(PolicyError) as e:
        _plan("load_info", _sel("Equal", "dummy"), call="check_modstruct_version")
    msg = str(e.value)
    assert msg.startswith("spec.kprobes[0].selectors[0].matchArgs[0].operator:"), msg
    assert "only reported" in msg, msg


@pytest.mark.parametrize("t", ["net_device", "load_info"])
def test_kernel_pointers_refused_on_syscalls(t):
    with pytest.raises(PolicyError) as e:
        _plan(t, call="sys_init_module", syscall="true")
    assert str(e.value).startswith("spec.kprobes[0].args[0].type:") and "kernel pointer" in str(
        e.value
    )


def _errors(selectors: str, t: str = "net_device") -> list:
    text = POLICY.format(call="dev_set_mtu", syscall="false", type=t, selectors=selectors)
    return [p for p in check_policy(parse_policy(text), "p.yaml", None, None) if p.is_error]


def test_checker_knows_the_operators():
    (err,) = _errors(_sel("GT", "1"))
    assert err.path == "spec.kprobes[0].selectors[0].matchArgs[0].operator", err
    assert "type net_device" in err.message, err
    assert _errors(_sel("Prefix", "eth")) == []
    (err,) = _errors(_sel("Equal", "dummy"), "load_info")
    assert "cannot be filtered" in err.message, err


def _slots(plan, slot: bytes, flags: int = 0, length: int | None = None) -> list[dict]:
    data = bytes(decode.SLOTS_AT) + slot.ljust(decode.SLOT, b"\0")
    lens = [length if length is not None else len(slot)] + [0] * 5
    return decode.decode_args(plan, data, [0] * 6, lens, [flags] + [0] * 5)


def test_net_device_decodes_as_string_arg():
    (plan,) = _plan("net_device")
    assert _slots(plan, b"eth0\0", length=4) == [{"string_arg": "eth0"}]


def test_load_info_decodes_as_kernel_module():
    (plan,) = _plan("load_info", call="check_modstruct_version")
    taints = (1 << 12) | (1 << 13) | (1 << 3)  # out of tree, unsigned, and an unnamed bit
    slot = struct.pack("<IIQ56s", 0, 0, taints, b"rootkit")
    assert _slots(plan, slot) == [
        {
            "module_arg": {
                "name": "rootkit",
                "signature_ok": False,
                "tainted": ["TAINT_OUT_OF_TREE_MODULE", "TAINT_UNSIGNED_MODULE"],
            }
        }
    ]
    signed = struct.pack("<IIQ56s", 1, 0, 0, b"dummy")
    assert _slots(plan, signed) == [{"module_arg": {"name": "dummy", "signature_ok": True}}]


def test_module_decodes_name_and_taints_without_signature():
    (plan,) = _plan("module", call="do_init_module")
    slot = struct.pack("<IIQ56s", 0, 0, 1 << 0, b"nvidia")
    assert _slots(plan, slot) == [
        {"module_arg": {"name": "nvidia", "tainted": ["TAINT_PROPRIETARY_MODULE"]}}
    ]
