"""Every argument type, selector and action the engine accepts produces C that clang builds.

Loading needs root and a matching kernel (the integration and VM tests do that); this
checks the code generator on its own, planning against a kernel with every feature.
"""

from __future__ import annotations

import shutil
import textwrap

import pytest
import yaml

from appliance.errors import PolicyError
from appliance.policy.compiler import compile_policy
from appliance.policy.emit import generate
from appliance.policy.manager import parse_policy
from appliance.policy.plan import AllFeatures, plan_policy

pytestmark = pytest.mark.skipif(shutil.which("clang") is None, reason="clang not installed")

ALL_TYPES = """
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "{name}"
spec:
  kprobes:
  - call: "{call}"
    syscall: false
    args:
{args}
    selectors:
    - matchPIDs:
      - operator: NotIn
        followForks: true
        values: [1]
      matchBinaries:
      - operator: Postfix
        followChildren: true
        values: ["/cat"]
      matchNamespaces:
      - namespace: Mnt
        operator: In
        values: ["host_ns"]
      matchCapabilities:
      - type: Effective
        operator: In
        values: ["CAP_SYS_ADMIN"]
      matchActions:
      - action: Post
        rateLimit: "1m"
"""

TYPE_SETS = [
    ["file", "int", "path"],
    ["cred", "user_namespace", "capability"],
    ["module", "bpf_attr", "uint64"],
    ["skb", "sock", "socket"],
    ["linux_binprm", "kiocb", "size_t"],
    ["sockaddr", "dentry", "perf_event"],
    ["bpf_map", "unsigned long", "char_buf", "iov_iter"],
    ["net_device", "load_info", "int"],
    ["sock", "dns", "size_t"],
]


@pytest.mark.parametrize("types", TYPE_SETS, ids=["-".join(t) for t in TYPE_SETS])
def test_argument_types_compile(types, tmp_path):
    args = "\n".join(f'    - index: {i}\n      type: "{t}"' for i, t in enumerate(types))
    text = ALL_TYPES.format(name="all-types", call="some_kernel_function", args=args)
    plans = plan_policy(parse_policy(text), AllFeatures())
    obj, cached = compile_policy(generate(plans), str(tmp_path))
    assert obj.endswith(".bpf.o") and not cached
    # unchanged source: from the cache, clang not run again
    assert compile_policy(generate(plans), str(tmp_path)) == (obj, True)


def test_selectors_and_return_compile(tmp_path):
    text = textwrap.dedent("""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "sel"
    spec:
      kprobes:
      - call: "tcp_connect"
        syscall: false
        return: true
        args:
        - index: 0
          type: "sock"
        returnArg:
          index: 0
          type: "int"
        selectors:
        - matchArgs:
          - index: 0
            operator: "NotDAddr"
            values: ["127.0.0.1", "10.0.0.0/8"]
          - index: 0
            operator: "DPort"
            values: ["80", "8000-8100"]
          matchReturnArgs:
          - index: 0
            operator: "NotEqual"
            values: ["0"]
      - call: "security_file_open"
        syscall: false
        args:
        - index: 0
          type: "file"
        selectors:
        - matchArgs:
          - index: 0
            operator: "Prefix"
            values: ["/etc/", "/root/.ssh"]
          matchActions:
          - action: Override
            argError: -1
        - matchArgs:
          - index: 0
            operator: "NotPostfix"
            values: [".so"]
          matchActions:
          - action: Sigkill
    """)
    plans = plan_policy(parse_policy(text), AllFeatures())
    assert [p.method for p in plans] == ["kprobe", "fmod_ret"]
    compile_policy(generate(plans), str(tmp_path))


def test_unsupported_is_refused_with_path():
    text = textwrap.dedent("""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "x"
    spec:
      kprobes:
      - call: "do_sys_open"
        syscall: false
        args:
        - index: 0
          type: "bpf_prog"
    """)
    with pytest.raises(PolicyError, match=r"spec.kprobes\[0\].args\[0\].type: .*bpf_prog"):
        plan_policy(parse_policy(text), AllFeatures())


def test_no_kprobes_no_fentry_refuses_non_syscall_hook():
    class HostLike(AllFeatures):
        kprobes = fentry = fmod_ret = override_return = False

    doc = yaml.safe_load(
        ALL_TYPES.format(name="n", call="fd_install", args="    - index: 0\n      type: int")
    )
    doc["spec"]["kprobes"][0]["selectors"] = []
    with pytest.raises(PolicyError, match="fd_install is not a syscall.*kprobes"):
        plan_policy(parse_policy(yaml.safe_dump(doc)), HostLike())


def test_lsm_hook_with_override_compiles(tmp_path):
    text = textwrap.dedent("""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "lsm"
    spec:
      lsmhooks:
      - hook: "file_open"
        args:
        - index: 0
          type: "file"
        selectors:
        - matchArgs:
          - index: 0
            operator: "Equal"
            values: ["/etc/shadow"]
          matchActions:
          - action: Override
            argError: -1
    """)
    [plan] = plan_policy(parse_policy(text), AllFeatures())
    assert (plan.kind, plan.method, plan.section) == ("lsm", "lsm", "lsm/file_open")
    source = generate([plan])
    assert "return -1;" in source
    compile_policy(source, str(tmp_path))


def test_generated_source_is_deterministic():
    """The compile cache is keyed by the source: the same policy must give the same C."""
    args = '    - index: 0\n      type: "file"'
    text = ALL_TYPES.format(name="d", call="fd_install", args=args)
    a = generate(plan_policy(parse_policy(text), AllFeatures()))
    b = generate(plan_policy(parse_policy(text), AllFeatures()))
    assert a == b


def test_fentries_with_fexit_return_compile(tmp_path):
    text = textwrap.dedent("""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "fentry"
    spec:
      fentries:
      - call: "tcp_connect"
        syscall: false
        return: true
        args:
        - index: 0
          type: "sock"
        returnArg:
          index: 0
          type: "int"
    """)
    [plan] = plan_policy(parse_policy(text), AllFeatures(), offline=True)
    assert (plan.section, plan.ret_section) == ("fentry/tcp_connect", "fexit/tcp_connect")
    source = generate([plan])
    assert f"ctx[{plan.ret_nargs}]" in source
    compile_policy(source, str(tmp_path))


@pytest.mark.parametrize(("size", "refused"), [(1022, False), (1023, True), (5000, True)])
def test_long_string_value_refused_not_truncated(size, refused, tmp_path):
    doc = yaml.safe_load(
        ALL_TYPES.format(name="n", call="do_sys_open", args="    - index: 1\n      type: string")
    )
    doc["spec"]["kprobes"][0]["selectors"] = [
        {"matchArgs": [{"index": 1, "operator": "Equal", "values": ["a" * size]}]}
    ]
    plans = plan_policy(parse_policy(yaml.safe_dump(doc)), AllFeatures())
    if refused:
        with pytest.raises(PolicyError, match=r"matchArgs\[0\]\.values\[0\]: value of .* limit"):
            generate(plans)
    else:
        assert "== 1022" in generate(plans)


NETWORK_AND_RETURN = """
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "network-and-return"
spec:
  kprobes:
  - call: "ip6_output"
    syscall: false
    args:
    - index: 1
      type: sock
    - index: 2
      type: skb
    selectors:
    - matchArgs:
      - index: 2
        operator: "DAddr"
        values: ["127.0.0.1/8", "::1/128", "fd00::/8"]
      - index: 2
        operator: "NotSAddr"
        values: ["2001:db8::1"]
      - index: 2
        operator: "Protocol"
        values: ["IPPROTO_UDP"]
      - index: 2
        operator: "DPort"
        values: ["53", "8000-8080"]
      - index: 1
        operator: "DAddr"
        values: ["::1"]
  - call: "security_socket_connect"
    syscall: false
    args:
    - index: 1
      type: sockaddr
    selectors:
    - matchArgs:
      - index: 1
        operator: "Family"
        values: ["AF_INET6"]
      - index: 1
        operator: "SAddr"
        values: ["::1", "127.0.0.1"]
      - index: 1
        operator: "SPort"
        values: ["80"]
  - call: "tcp_create_openreq_child"
    syscall: false
    return: true
    args:
    - index: 0
      type: sock
    returnArg:
      type: sock
  - call: "security_inode_copy_up_xattr"
    syscall: false
    return: true
    args:
    - index: 0
      type: string
    returnArg:
      type: int
    selectors:
    - matchArgs:
      - index: 0
        operator: Equal
        values: ["security.capability"]
      matchActions:
      - action: Override
        argError: 1
  - call: "sys_read"
    syscall: true
    args:
    - index: 0
      type: fd
    - index: 1
      type: char_buf
      returnCopy: true
"""


def test_network_selectors_and_return_kinds_compile(tmp_path):
    plans = plan_policy(parse_policy(NETWORK_AND_RETURN), AllFeatures(), offline=True)
    methods = [(p.method, p.ret_section.split("/")[0]) for p in plans]
    assert methods == [("fentry", ""), ("fentry", ""), ("kprobe", "kretprobe"),
                       ("fmod_ret", "fexit"), ("kprobe", "kretprobe")]  # fmt: skip
    assert plans[2].ret_slot == 1 and plans[4].ret_hidden
    src = generate(plans)
    assert "sock_ret(m, 1," in src and "m->ret = 1; emit(" in src
    compile_policy(src, str(tmp_path))
