"""The one search for BPF objects and headers: the environment first, then the checkout,
then the installed copies; the agent and the policy compiler both use it."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.bpf import paths
from appliance.errors import PolicyError
from appliance.policy import compiler


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A scratch checkout and two scratch install roots, all empty; no environment."""
    monkeypatch.setattr(paths, "CHECKOUT_BPF", tmp_path / "checkout" / "bpf")
    installed = (str(tmp_path / "local"), str(tmp_path / "usr"))
    monkeypatch.setattr(paths, "INSTALLED_BPF", installed)
    monkeypatch.delenv("TETRAGON_BPF_LIB", raising=False)
    monkeypatch.delenv("TETRAGON_BPF_INCLUDE", raising=False)
    return tmp_path


def _put(d: Path, name: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(b"")
    return d


def test_first_place_that_holds_the_file_wins(tree, monkeypatch):
    _put(tree / "usr", "process.bpf.o")
    assert paths.bpf_lib() == str(tree / "usr")
    _put(tree / "local", "process.bpf.o")
    assert paths.bpf_lib() == str(tree / "local")
    _put(tree / "checkout" / "bpf" / "objs", "process.bpf.o")
    assert paths.bpf_lib() == str(tree / "checkout" / "bpf" / "objs")
    env = _put(tree / "env", "process.bpf.o")
    monkeypatch.setenv("TETRAGON_BPF_LIB", str(env))
    assert paths.bpf_lib() == str(env)


def test_a_directory_without_the_file_is_passed_over(tree, monkeypatch):
    (tree / "env").mkdir()
    monkeypatch.setenv("TETRAGON_BPF_LIB", str(tree / "env"))
    _put(tree / "usr", "process.bpf.o")
    assert paths.bpf_lib() == str(tree / "usr")


def test_objects_found_nowhere_mean_the_checkout(tree):
    assert paths.bpf_lib() == str(tree / "checkout" / "bpf" / "objs")


def test_headers_are_searched_the_same_way(tree, monkeypatch):
    with pytest.raises(PolicyError, match=r"policy\.h"):
        compiler.include_dir()
    _put(tree / "usr" / "include", "policy.h")
    assert compiler.include_dir() == str(tree / "usr" / "include")
    _put(tree / "checkout" / "bpf" / "include", "policy.h")
    assert compiler.include_dir() == str(tree / "checkout" / "bpf" / "include")
    env = _put(tree / "env", "policy.h")
    monkeypatch.setenv("TETRAGON_BPF_INCLUDE", str(env))
    assert compiler.include_dir() == str(env)


def test_the_checkout_is_this_source_tree():
    assert (paths.CHECKOUT_BPF / "include" / "policy.h").exists()
