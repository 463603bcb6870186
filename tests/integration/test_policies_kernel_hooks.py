"""Hooks this host lacks (kprobes, fentry, fmod_ret): run in the tests/vm kernels."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import subprocess
import textwrap

import pytest

from appliance.bpf.features import KPROBE_EVENTS

from .policy_harness import (
    Policy,
    agent_fixture,
    arg_selector,
    kprobe_events,
    policy_yaml,
    tetra,
    wait_policy_event,
)


def tetra_list(agent) -> str:
    return tetra(agent, "tracingpolicy", "list").stdout


OVERRIDE = "matchActions:\n- action: Override\n  argError: -1"
RETURN_INT = 'return: true\nreturnArg:\n  index: 0\n  type: "int"'

HAS_KPROBES = any(os.path.exists(p) for p in KPROBE_EVENTS)
needs_kprobes = pytest.mark.skipif(
    not HAS_KPROBES, reason="this kernel has no kprobes: run `make vm-test`"
)


agent = agent_fixture()


@contextlib.contextmanager
def _route_to_test_net():
    """A guest with only loopback has no route to 192.0.2.0/24: lend it one."""
    probe = socket.socket()
    probe.setblocking(False)
    try:
        probe.connect(("192.0.2.1", 81))
        added = False
    except BlockingIOError:
        added = False
    except OSError:
        # an address of that network on loopback routes it (connections are refused)
        subprocess.run(["ip", "addr", "add", "192.0.2.100/24", "dev", "lo"], check=True)
        added = True
    finally:
        probe.close()
    try:
        yield
    finally:
        if added:
            subprocess.run(["ip", "addr", "del", "192.0.2.100/24", "dev", "lo"], check=False)


def _fentry_ok() -> bool:
    try:
        from appliance.bpf.features import _try_load
        from appliance.bpf.paths import bpf_lib

        return _try_load(os.path.join(bpf_lib(), "probes.bpf.o"), "probe_fmod_ret", "")
    except Exception:
        return False


@needs_kprobes
def test_fd_install_file_equal(agent, tmp_path):
    target = tmp_path / "watched.txt"
    target.write_text("x")
    policy = policy_yaml(
        "fd-install", "fd_install", ["int", "file"], arg_selector(1, "Equal", target), syscall=False
    )
    with Policy(agent, tmp_path, policy):
        open(target).close()
        open("/etc/hostname").close()
        ev = wait_policy_event(agent, "fd-install")
        assert ev["function_name"] == "fd_install"
        assert ev["args"][1]["file_arg"]["path"] == str(target)
        assert all(e["args"][1]["file_arg"]["path"] == str(target)
                   for e in kprobe_events(agent, "fd-install"))  # fmt: skip


@needs_kprobes
def test_security_file_permission(agent, tmp_path):
    target = tmp_path / "perm.txt"
    target.write_text("data")
    policy = policy_yaml(
        "file-permission",
        "security_file_permission",
        ["file", "int"],
        arg_selector(0, "Prefix", tmp_path),
        syscall=False,
    )
    with Policy(agent, tmp_path, policy):
        target.read_text()
        ev = wait_policy_event(agent, "file-permission")
        assert ev["args"][0]["file_arg"]["path"] == str(target)
        assert ev["args"][1]["int_arg"] == 4  # MAY_READ
        assert "equivalent" not in tetra_list(agent)  # the function itself is hooked


@needs_kprobes
def test_tcp_connect_not_daddr(agent, tmp_path):
    policy = policy_yaml(
        "connect", "tcp_connect", ["sock"], arg_selector(0, "NotDAddr", "127.0.0.1"), syscall=False
    )
    with Policy(agent, tmp_path, policy):
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        socket.create_connection(srv.getsockname()).close()  # loopback: filtered out
        s = socket.socket()
        s.setblocking(False)
        with _route_to_test_net():
            try:
                s.connect(("192.0.2.1", 81))  # TEST-NET-1: never answers
            except (BlockingIOError, ConnectionRefusedError):
                pass  # tcp_connect ran either way
        ev = wait_policy_event(agent, "connect")
        s.close()
        srv.close()
        sock = ev["args"][0]["sock_arg"]
        assert sock["daddr"] == "192.0.2.1" and sock["dport"] == 81
        assert all(e["args"][0]["sock_arg"]["daddr"] != "127.0.0.1"
                   for e in kprobe_events(agent, "connect"))  # fmt: skip


@needs_kprobes
def test_override_security_file_open(agent, tmp_path):
    if not _fentry_ok():
        pytest.skip("fmod_ret programs do not load on this kernel")
    target = tmp_path / "denied.txt"
    target.write_text("x")
    policy = policy_yaml(
        "deny-open",
        "security_file_open",
        ["file"],
        arg_selector(0, "Equal", target, then=OVERRIDE),
        syscall=False,
    )
    with Policy(agent, tmp_path, policy):
        with pytest.raises(PermissionError) as exc:
            open(target).close()
        assert exc.value.errno == errno.EPERM
        open("/etc/hostname").close()
        ev = wait_policy_event(agent, "deny-open")
        assert ev["action"] == "KPROBE_ACTION_OVERRIDE"
    open(target).close()  # removed: allowed again
    _ = subprocess


def _bpf_lsm_active() -> bool:
    try:
        return "bpf" in open("/sys/kernel/security/lsm").read().split(",")
    except OSError:
        return False


@pytest.mark.skipif(not _bpf_lsm_active(), reason="the bpf LSM is not active on this kernel")
def test_lsm_hook_override(agent, tmp_path):
    target = tmp_path / "lsm-denied.txt"
    target.write_text("x")
    policy = policy_yaml(
        "lsm-deny-open",
        "file_open",
        ["file"],
        arg_selector(0, "Equal", target, then=OVERRIDE),
        hook="lsmhooks",
        syscall=None,
    )
    with Policy(agent, tmp_path, policy):
        with pytest.raises(PermissionError):
            open(target).close()
        ev = wait_policy_event(agent, "lsm-deny-open", kind="process_lsm")
        assert ev["function_name"] == "file_open"
        assert ev["args"][0]["file_arg"]["path"] == str(target)
        assert ev["action"] == "KPROBE_ACTION_OVERRIDE"
    open(target).close()


@needs_kprobes
def test_fentries_with_return(agent, tmp_path):
    if not _fentry_ok():
        pytest.skip("BPF trampolines do not load on this kernel")
    policy = policy_yaml(
        "fentry-connect",
        "tcp_connect",
        ["sock"],
        hook="fentries",
        syscall=False,
        call_extra=RETURN_INT,
    )
    with Policy(agent, tmp_path, policy):
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        port = srv.getsockname()[1]
        socket.create_connection(("127.0.0.1", port)).close()
        ev = wait_policy_event(agent, "fentry-connect")
        srv.close()
        assert ev["function_name"] == "tcp_connect"
        assert ev["args"][0]["sock_arg"]["dport"] == port
        assert ev["return"] == {"int_arg": 0}
        assert "fexit/tcp_connect" in tetra_list(agent)


def test_generated_ftrace_list(agent, tmp_path):
    """A generated_ftrace list stands for the kernel functions its pattern matches
    (available_filter_functions): each one is hooked where the kernel has kprobes or
    fentry, and the policy is refused naming what the kernel lacks where it has neither."""
    target = tmp_path / "ftrace-list.txt"
    target.write_text("x")
    text = textwrap.dedent(f"""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "ftrace-list"
    spec:
      lists:
      - name: "installs"
        type: "generated_ftrace"
        pattern: "^fd_install$"
      kprobes:
      - call: "list:installs"
        syscall: false
        args:
        - index: 0
          type: int
        - index: 1
          type: "file"
        selectors:
        - matchArgs:
          - index: 1
            operator: "Equal"
            values:
            - "{target}"
    """)  # fmt: skip
    if not (HAS_KPROBES or _fentry_ok()):
        path = tmp_path / "ftrace-list.yaml"
        path.write_text(text)
        out = tetra(agent, "tracingpolicy", "add", str(path), check=False)
        assert out.returncode != 0
        assert (
            "spec.kprobes[0].call: fd_install is not a syscall; hooking it needs kprobes or "
            "BPF trampolines (fentry), and this kernel has neither"
        ) in out.stderr + out.stdout
        assert "ftrace-list" not in tetra_list(agent)
        return
    with Policy(agent, tmp_path, text):
        open(target).close()
        ev = agent.wait_for(lambda e: e.get("process_kprobe", {}).get("policy_name")
                            == "ftrace-list")["process_kprobe"]  # fmt: skip
        assert ev["function_name"] == "fd_install"
        assert ev["args"][1]["file_arg"]["path"] == str(target)
