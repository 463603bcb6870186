"""generated_ftrace lists: the pattern expanded to kernel functions, each hook planned
as any other kprobe (and refused by a kernel without kprobes for that reason)."""

from __future__ import annotations

import pytest

from appliance.errors import PolicyError
from appliance.policy import ftrace_list
from appliance.policy.model import TracingPolicy
from appliance.policy.plan import AllFeatures, plan_policy

FUNCS = ["fd_install", "do_dup2", "__x64_sys_dup", "security_file_open", "fd_install"]


def _policy(pattern: str) -> TracingPolicy:
    return TracingPolicy.model_validate(
        {
            "apiVersion": "cilium.io/v1alpha1",
            "kind": "TracingPolicy",
            "metadata": {"name": "ftrace"},
            "spec": {
                "lists": [{"name": "fns", "type": "generated_ftrace", "pattern": pattern}],
                "kprobes": [{"call": "list:fns", "syscall": False}],
            },
        }
    )


@pytest.fixture
def kernel(monkeypatch):
    """A kernel whose ftrace lists FUNCS (fd_install twice, as modules may)."""
    names = list(dict.fromkeys(FUNCS))
    monkeypatch.setattr(ftrace_list, "_kernel_functions", lambda: (names, "test"))


def test_pattern_is_searched_in_each_name():
    lst = _policy("dup").spec.lists[0]
    assert ftrace_list.expand(lst, "p", functions=lambda: (FUNCS[:4], "t")) == [
        "do_dup2",
        "__x64_sys_dup",
    ]


def test_no_match_is_refused_with_the_pattern():
    lst = _policy("^nothing$").spec.lists[0]
    with pytest.raises(PolicyError) as exc:
        ftrace_list.expand(lst, "spec.kprobes[0]", functions=lambda: (FUNCS, "BTF"))
    assert str(exc.value) == (
        "spec.kprobes[0].call: list 'fns': pattern '^nothing$' matches no kernel function (BTF)"
    )


def test_unreadable_kernel_list():
    lst = _policy("fd_.*").spec.lists[0]
    with pytest.raises(PolicyError, match="the kernel lists no functions"):
        ftrace_list.expand(lst, "p", functions=lambda: (None, ""))
    # validation without this machine's kernel plans the pattern as one hook
    assert ftrace_list.expand(lst, "p", offline=True, functions=lambda: (None, "")) == ["fd_.*"]


class KprobesOnly(AllFeatures):
    fentry = fmod_ret = False


def test_each_function_is_one_kprobe(kernel):
    plans = plan_policy(_policy("^(fd_install|do_dup2)$"), KprobesOnly())
    assert sorted((p.function_name, p.method, p.section) for p in plans) == [
        ("do_dup2", "kprobe", "kprobe/do_dup2"),
        ("fd_install", "kprobe", "kprobe/fd_install"),
    ]


class NoKprobes(AllFeatures):
    kprobes = fentry = fmod_ret = override_return = False


def test_kernel_without_kprobes_refuses_naming_it(kernel):
    with pytest.raises(PolicyError) as exc:
        plan_policy(_policy("^fd_install$"), NoKprobes())
    assert str(exc.value).startswith(
        "spec.kprobes[0].call: fd_install is not a syscall; hooking it needs kprobes or BPF "
        "trampolines (fentry), and this kernel has neither"
    )


def test_real_kernel_list_has_a_known_function():
    """This machine's tracefs (or BTF) lists the functions the kernel can trace."""
    names, source = ftrace_list._kernel_functions()
    if names is None:
        pytest.skip("neither tracefs nor BTF readable here")
    assert "fd_install" in names and source in ("available_filter_functions", "BTF")
