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
    "spec.uprobes[0]: a uprobe needs exactly one of symbols, offsets or addrs (given: "
    "symbols and offsets)": {
        "uprobes": [{"path": "/bin/sh", "symbols": ["main"], "offsets": [10]}]
    },
    "spec.uprobes[0].refCtrOffsets: 1 entries for 2 addrs: each needs its reference counter "
    "offset": {"uprobes": [{"path": "/bin/sh", "addrs": [10, 20], "refCtrOffsets": [4]}]},
    "spec.uprobes[0].returnArg.type: a uprobe's return value is read from the return "
    "register as a number; 'string' is not one (integer types only)": {
        "uprobes": [
            {"path": "/bin/sh", "offsets": [10], "return": True, "returnArg": _arg("string")}
        ]
    },
    "spec.kprobes[0].args[0].type: 'auto' needs BTF argument resolution": {
        "kprobes": [_kp(args=[_arg("auto")])]
    },
    "spec.kprobes[0].args[0].returnCopy: only char_buf and int32_arr arguments are copied "
    "at return in this engine, not 'string'": {
        "kprobes": [_kp(args=[_arg("string", returnCopy=True)])]
    },
    "spec.kprobes[0].args[0].size: an int32_arr needs its number of values, 1 to 255": {
        "kprobes": [_kp(args=[_arg("int32_arr")])]
    },
    "spec.kprobes[0].data[0].source: 'pt_regs' is not a data source of this engine "
    "(known: current_task)": {
        "kprobes": [_kp(data=[_arg("int", source="pt_regs", resolve="pid")])]
    },
    "spec.fentries[0].returnArg.type: 'string' return values are not supported (supported: "
    "integer types, sock)": {
        "fentries": [{"call": "security_file_open", "return": True, "returnArg": _arg("string")}]
    },
    "spec.kprobes[0].returnArg.type: a syscall returns a number, not a 'sock'": {
        "kprobes": [
            {"call": "sys_openat", "syscall": True, "return": True, "returnArg": _arg("sock")}
        ]
    },  # fmt: skip
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
    "spec.kprobes[0].selectors[0].matchReturnActions[0].action: Override is not taken at "
    "return by this engine (at return: Post, NoPost, Sigkill, Signal)": {
        "kprobes": [
            _kp(**_RET, selectors=_sel(matchReturnActions=[{"action": "Override", "argError": -1}]))
        ]
    },
    "spec.kprobes[0].selectors[0].matchActions[0].imaHash: IMA hashes are reported on LSM "
    "hooks only (spec.lsmhooks): bpf_ima_file_hash is callable only from sleepable BPF LSM "
    "programs": {
        "kprobes": [_kp(selectors=_sel(matchActions=[{"action": "Post", "imaHash": True}]))]
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
    "spec.kprobes[0].selectors[0].matchArgs[0].operator: State is not supported on a 'skb' "
    "argument in this engine": {
        "kprobes": [
            _kp(
                args=[_arg("skb")],
                selectors=_sel(matchArgs=[{"index": 0, "operator": "State", "values": ["1"]}]),
            )
        ]
    },
    "spec.kprobes[0].selectors[0].matchArgs[0].operator: GT is not supported on a "
    "'kernel_cap_t' argument in this engine": {
        "kprobes": [
            _kp(
                args=[_arg("kernel_cap_t")],
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


# What the engine refused before and now plans (on a kernel with every feature).
PLANNED = {
    # the binary on the target machine (offline planning)
    "usdts": {"usdts": [{"path": "/opt/absent/app", "provider": "p", "name": "n"}]},
    "killers": {
        "killers": [{"calls": ["sys_openat"]}],
        "kprobes": [{"call": "sys_openat", "syscall": True}],
    },
    "data": {"kprobes": [_kp(**_RET, data=_DATA)]},
    "Override with return": {
        "kprobes": [_kp(**_RET, selectors=_sel(matchActions=[{"action": "Override"}]))]
    },
    "sock return value": {"kprobes": [_kp(return_=True, returnArg=_arg("sock"))]},
    "returnCopy": {"kprobes": [_kp(args=[_arg("char_buf", returnCopy=True, sizeArgIndex=1)])]},
    "stack traces": {
        "kprobes": [
            _kp(selectors=_sel(matchActions=[{"action": "Post", "kernelStackTrace": True}]))
        ]
    },
    "CapabilityMask": {
        "kprobes": [
            _kp(
                args=[_arg("cap_effective")],
                selectors=_sel(
                    matchArgs=[
                        {"index": 0, "operator": "CapabilityMask", "values": ["CAP_SYS_ADMIN"]}
                    ]
                ),
            )
        ]
    },
}


@pytest.mark.parametrize("name", list(PLANNED))
def test_planned_now(name):
    doc = {
        "apiVersion": "cilium.io/v1alpha1",
        "kind": "TracingPolicy",
        "metadata": {"name": "planned"},
        "spec": PLANNED[name],
    }
    assert plan_policy(TracingPolicy.model_validate(doc), AllFeatures(), offline=True)


@pytest.mark.parametrize(
    ("decl", "size", "signed", "want"),
    [
        ("long id", 8, True, ("int64", None)),
        ("unsigned long args[6]", 48, False, ("char_buf", (6, 8, False))),
        ("char comm[16]", 16, True, ("char_buf", (16, 1, False))),
        ("int prio", 4, True, ("int", None)),
        ("unsigned short common_type", 2, False, ("uint32", None)),
        ("const char * filename", 8, False, ("", None)),  # a string or a buffer?
        ("struct file * file", 8, False, ("uint64", None)),
        ("__data_loc char[] name", 4, False, ("", None)),
    ],
)
def test_tracepoint_field_types_are_inferred_from_the_format(decl, size, signed, want):
    from appliance.policy.plan import tracepoint_field_type

    assert tracepoint_field_type(decl, size, signed) == want


def _planned(spec: dict, features=None):
    doc = {
        "apiVersion": "cilium.io/v1alpha1",
        "kind": "TracingPolicy",
        "metadata": {"name": "p"},
        "spec": spec,
    }
    return plan_policy(TracingPolicy.model_validate(doc), features or AllFeatures(), offline=True)


def test_substring_is_refused_naming_the_missing_kfunc():
    class NoStrings(AllFeatures):
        kfuncs = ("bpf_strnstr",)

    flt = {"index": 0, "operator": "SubStringIgnCase", "values": ["x"]}
    spec = {"kprobes": [_kp(args=[_arg("string")], selectors=_sel(matchArgs=[flt]))]}
    with pytest.raises(PolicyError) as e:
        _planned(spec, NoStrings())
    assert str(e.value) == (
        "spec.kprobes[0].selectors[0].matchArgs[0].operator: SubStringIgnCase calls the "
        "kernel's bpf_strncasestr kfunc, which this kernel does not have"
    )
    flt["operator"] = "SubString"
    assert _planned(spec, NoStrings())  # bpf_strnstr is there


def test_range_file_type_and_substring_conditions():
    from appliance.policy.emit import generate

    sels = [
        {"matchArgs": [{"index": 1, "operator": "NotInRange", "values": ["1:5", "9:9"]}]},
        {"matchArgs": [{"index": 0, "operator": "NotFileType", "values": ["dir", "fifo"]}]},
        {"matchArgs": [{"index": 2, "operator": "SubString", "values": ["ab"]}]},
    ]
    spec = {"kprobes": [_kp(args=[_arg("file"), _arg("uint32", 1), _arg("string", 2)],
                            selectors=sels)]}  # fmt: skip
    c = generate(_planned(spec))
    assert "(!((((u32)a1) >= 1ULL && ((u32)a1) <= 5ULL) || (((u32)a1) >= 9ULL" in c
    mode = "((m->ints[0]) & 0170000)"
    assert f"(!({mode} == 040000 || {mode} == 010000))" in c
    assert "= {97, 98, 0};" in c and "bpf_strnstr((const char *)m->slots[" in c
