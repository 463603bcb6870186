"""matchArgs operators beyond comparisons: InRange/NotInRange on integers, SubString and
SubStringIgnCase on strings (the kernel's bpf_strnstr / bpf_strncasestr kfuncs; refused,
naming the kfunc, where the kernel lacks it), FileType/NotFileType on file and path
arguments (kprobes: the tests/vm kernels)."""

from __future__ import annotations

import os

import pytest

from appliance.bpf.features import KPROBE_EVENTS, _kfuncs

from .policy_harness import (
    Policy,
    agent_fixture,
    arg_selector,
    kprobe_events,
    policy_yaml,
    py,
    tetra,
    wait_policy_event,
)

agent = agent_fixture()

KFUNCS = set(_kfuncs(""))
HAS_KPROBES = any(os.path.exists(p) for p in KPROBE_EVENTS)
LSEEK = [(0, "int"), (2, "int")]


def _filters(*flts: tuple[int, str, list[str]]) -> str:
    """One selector with these matchArgs filters (index, operator, values), all to pass."""
    lines = ["- matchArgs:"]
    for index, op, values in flts:
        lines += [f"  - index: {index}", f'    operator: "{op}"', "    values:"]
        lines += [f'    - "{v}"' for v in values]
    return "\n".join(lines) + "\n"


def _whence(ev: dict) -> int:
    return ev["args"][1]["int_arg"]


def _lseek(whence: int) -> None:
    py(f"import os\ntry:\n    os.lseek(0, 0, {whence})\nexcept OSError:\n    pass")


def test_in_range_and_not_in_range(agent, tmp_path):
    sel = _filters((2, "InRange", ["4300:4310", "4400:4400"]), (2, "NotInRange", ["0:4301"]))
    policy = policy_yaml("lseek-range", "sys_lseek", LSEEK, sel)
    with Policy(agent, tmp_path, policy):
        for whence in (4299, 4301, 4311, 4305):  # out, in but NotInRange, out, in
            _lseek(whence)
        ev = wait_policy_event(agent, "lseek-range", lambda b: _whence(b) >= 4299)
        _lseek(4400)
        last = wait_policy_event(agent, "lseek-range", lambda b: _whence(b) == 4400)
    assert _whence(ev) == 4305
    assert _whence(last) == 4400
    seen = {_whence(e) for e in kprobe_events(agent, "lseek-range") if _whence(e) >= 4299}
    assert seen == {4305, 4400}


def _openat_policy(name: str, op: str, *values: str) -> str:
    return policy_yaml(name, "sys_openat", [(1, "string")], arg_selector(1, op, *values))


@pytest.mark.skipif("bpf_strnstr" not in KFUNCS, reason="this kernel has no bpf_strnstr")
def test_substring(agent, tmp_path):
    hay = tmp_path / "hay-NEEDLE-stack"
    other = tmp_path / "hay-needle-stack"  # another case: SubString is case-sensitive
    with Policy(agent, tmp_path, _openat_policy("substr", "SubString", "NEEDLE", "pin")):
        for path in (other, hay):
            py(f"try:\n    open({str(path)!r})\nexcept OSError:\n    pass")
        ev = wait_policy_event(agent, "substr", lambda b: "stack" in b["args"][0]["string_arg"])
    assert ev["args"][0]["string_arg"] == str(hay)


@pytest.mark.skipif("bpf_strncasestr" not in KFUNCS, reason="this kernel has no bpf_strncasestr")
def test_substring_ignoring_case(agent, tmp_path):
    hay = tmp_path / "hay-NeEdLe-stack"
    with Policy(agent, tmp_path, _openat_policy("substr-i", "SubStringIgnCase", "needle")):
        py(f"try:\n    open({str(hay)!r})\nexcept OSError:\n    pass")
        ev = wait_policy_event(agent, "substr-i")
    assert ev["args"][0]["string_arg"] == str(hay)


@pytest.mark.skipif(
    {"bpf_strnstr", "bpf_strncasestr"} <= KFUNCS, reason="this kernel has both string kfuncs"
)
def test_substring_refused_naming_the_missing_kfunc(agent, tmp_path):
    op, kfunc = (
        ("SubString", "bpf_strnstr")
        if "bpf_strnstr" not in KFUNCS
        else ("SubStringIgnCase", "bpf_strncasestr")
    )
    path = tmp_path / "p.yaml"
    path.write_text(_openat_policy("substr-refused", op, "x"))
    out = tetra(agent, "tracingpolicy", "add", str(path), check=False)
    assert out.returncode != 0
    assert f"calls the kernel's {kfunc} kfunc, which this kernel does not have" in out.stderr


@pytest.mark.skipif(not HAS_KPROBES, reason="this kernel has no kprobes: run `make vm-test`")
def test_file_type(agent, tmp_path):
    sub = tmp_path / "a-directory"
    sub.mkdir()
    plain = tmp_path / "a-file"
    plain.write_text("x")
    sel = _filters((1, "FileType", ["dir"]), (1, "Prefix", [str(tmp_path)]))
    policy = policy_yaml("fd-install-dir", "fd_install", ["int", "file"], sel, syscall=False)
    with Policy(agent, tmp_path, policy):
        os.close(os.open(plain, os.O_RDONLY))
        os.close(os.open(sub, os.O_RDONLY))
        ev = wait_policy_event(agent, "fd-install-dir")
    assert ev["args"][1]["file_arg"]["path"] == str(sub)
    assert ev["args"][1]["file_arg"]["permission"].startswith("d")
