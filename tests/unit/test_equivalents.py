"""Planning kernel functions onto their equivalents when the kernel cannot hook them."""

from __future__ import annotations

import shutil
import textwrap

import pytest

from appliance.policy import plan as plan_mod
from appliance.policy.compiler import compile_policy
from appliance.policy.emit import generate
from appliance.policy.manager import parse_policy
from appliance.policy.plan import AllFeatures, PolicyError, plan_policy
from appliance.settings import Settings

POLICY = textwrap.dedent("""
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "file-monitoring"
spec:
  kprobes:
  - call: "security_file_permission"
    syscall: false
    args:
    - index: 0
      type: "{file_type}"
    - index: 1
      type: "int"
    selectors:
    - matchArgs:
      - index: 0
        operator: "Prefix"
        values:
        - "/etc/shadow"
      matchActions:
      - action: {action}
""")


class NoKprobes(AllFeatures):
    kprobes = fentry = fmod_ret = override_return = lsm_active = lsm_prog = False


@pytest.fixture
def tracefs_has_syscalls(monkeypatch):
    """Every syscall tracepoint exists (planning only; loading is the integration test's)."""
    monkeypatch.setattr(plan_mod, "tracepoint_format", lambda s, e: [("", 0, 8, False)] * 6)


def _plan(action: str = "Post", file_type: str = "file", **kw):
    text = POLICY.format(action=action, file_type=file_type)
    return plan_policy(parse_policy(text), NoKprobes(), **kw)


def test_file_permission_plans_onto_read_and_write_tracepoints(tracefs_has_syscalls):
    plans = _plan()
    assert [p.attach[1] for p in plans] == [
        f"syscalls/sys_enter_{s}" for s in ("read", "readv", "pread64", "write", "writev",
                                            "pwrite64")
    ]  # fmt: skip
    assert {p.function_name for p in plans} == {"security_file_permission"}
    assert all("mmap" in p.equivalent for p in plans)
    masks = [p.args[1].fetch for p in plans]
    assert masks == ["4"] * 3 + ["2"] * 3
    assert all("fd_file(" in p.args[0].read for p in plans)
    assert {p.verdict_fd for p in plans} == {"a0"}  # resolved only once a selector may match


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang not installed")
def test_the_equivalent_with_sigkill_compiles(tracefs_has_syscalls, tmp_path):
    src = generate(_plan("Sigkill"))
    assert "bpf_send_signal(9)" in src
    compile_policy(src, str(tmp_path))


def test_the_setting_off_refuses_as_before(tracefs_has_syscalls):
    with pytest.raises(PolicyError, match="security_file_permission is not a syscall"):
        _plan(equivalents=False)


def test_override_still_needs_the_function(tracefs_has_syscalls):
    with pytest.raises(PolicyError, match="Override on security_file_permission"):
        _plan("Override\n        argError: -1")


def test_a_type_the_equivalent_cannot_fill_is_named(tracefs_has_syscalls):
    with pytest.raises(PolicyError, match=r"args\[0\]\.type: .* as file, not 'path'"):
        _plan(file_type="path")


def test_kernels_with_kprobes_attach_the_function_itself():
    plans = plan_policy(parse_policy(POLICY.format(action="Post", file_type="file")),
                        AllFeatures())  # fmt: skip
    assert [(p.method, p.equivalent) for p in plans] == [("fentry", "")]


def test_the_setting_defaults_on():
    assert Settings().kprobe_equivalents is True


@pytest.mark.parametrize(
    "argv", [["--kprobe-equivalents=false"], ["--kprobe-equivalents", "false"]]
)
def test_the_flag_turns_it_off(argv, tmp_path):
    from appliance.settings import load_settings

    loaded = load_settings(argv=argv, environ={}, system_dirs=[str(tmp_path)], yaml_file="/none")
    assert loaded.settings.kprobe_equivalents is False


def test_tcp_connect_plans_onto_sys_enter_connect_tcp_only(tracefs_has_syscalls, tmp_path):
    text = textwrap.dedent("""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "connect"
    spec:
      kprobes:
      - call: "tcp_connect"
        syscall: false
        args:
        - index: 0
          type: "sock"
        selectors:
        - matchArgs:
          - index: 0
            operator: "NotDAddr"
            values:
            - "127.0.0.1"
    """)
    [p] = plan_policy(parse_policy(text), NoKprobes())
    assert p.attach == ("tracepoint", "syscalls/sys_enter_connect")
    assert p.function_name == "tcp_connect" and "IPv4 only" in p.equivalent
    src = generate([p])
    assert "connect_sock_arg(m, 0, 0," in src and "m->lens[0] > 0 &&" in src
    if shutil.which("clang"):
        compile_policy(src, str(tmp_path))


def _quickstart(name: str = "file_monitoring.yaml"):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "fixtures" / name).read_text()
    return plan_policy(parse_policy(text), NoKprobes())


def test_the_quickstart_policy_plans_all_three_functions(tracefs_has_syscalls):
    plans = _quickstart()
    hooks = {(p.function_name, p.attach[1].rsplit("_", 1)[-1]) for p in plans}
    assert ("security_mmap_file", "mmap") in hooks
    assert {("security_path_truncate", s) for s in ("truncate", "ftruncate")} <= hooks
    # return: true -> the syscall's exit, with its error as the function's return value
    assert all(p.ret and p.ret_attach[1].startswith("syscalls/sys_exit_") for p in plans)
    mmap_plan = next(p for p in plans if p.function_name == "security_mmap_file")
    assert [a.fetch for a in mmap_plan.args[1:]] == [
        "(((u64 *)((char *)ctx + 16))[2])",  # prot
        "(((u64 *)((char *)ctx + 16))[3])",  # flags
    ]


def test_the_verdict_cache_is_used_where_every_selector_tests_the_file(tracefs_has_syscalls):
    plans = _quickstart()
    src = generate(plans)
    on = {p.attach[1].rsplit("_", 1)[-1] for p in plans if p.verdict_on}
    # truncate(2) has a name, not an fd: no cache there
    assert on == {"read", "readv", "pread64", "write", "writev", "pwrite64", "mmap", "ftruncate"}
    assert src.count("fv_unselected(") == len(on) and '#include "file_verdict.h"' in src
    # the invalidators are attached once, with the first cached hook
    assert [len(p.aux_attach) > 0 for p in plans].count(True) == 1
    assert "fv_inval_rename" in src


def test_no_verdict_cache_for_a_selector_that_matches_any_file(tracefs_has_syscalls):
    text = POLICY.format(action="Post", file_type="file").replace(
        '        - "/etc/shadow"\n',
        '        - "/etc/shadow"\n    - matchArgs:\n      - index: 1\n        operator: "Equal"\n'
        '        values:\n        - "4"\n',
    )
    plans = plan_policy(parse_policy(text), NoKprobes())
    generate(plans)
    assert not any(p.verdict_on for p in plans)


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang not installed")
def test_the_quickstart_policy_compiles(tracefs_has_syscalls, tmp_path):
    compile_policy(generate(_quickstart()), str(tmp_path))
