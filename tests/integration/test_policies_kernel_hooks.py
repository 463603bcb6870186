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

from .conftest import start_policy_agent
from .test_policies import Policy, kprobe_events, tetra


def tetra_list(agent) -> str:
    return tetra(agent, "tracingpolicy", "list").stdout


HAS_KPROBES = any(os.path.exists(p) for p in KPROBE_EVENTS)
needs_kprobes = pytest.mark.skipif(
    not HAS_KPROBES, reason="this kernel has no kprobes: run `make vm-test`"
)


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    a = start_policy_agent(tmp_path_factory)
    yield a
    a.stop()


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
    with Policy(agent, tmp_path, textwrap.dedent(f"""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "fd-install"
    spec:
      kprobes:
      - call: "fd_install"
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
    """)):  # fmt: skip
        open(target).close()
        open("/etc/hostname").close()
        ev = agent.wait_for(lambda e: e.get("process_kprobe", {}).get("policy_name")
                            == "fd-install")["process_kprobe"]  # fmt: skip
        assert ev["function_name"] == "fd_install"
        assert ev["args"][1]["file_arg"]["path"] == str(target)
        assert all(e["args"][1]["file_arg"]["path"] == str(target)
                   for e in kprobe_events(agent, "fd-install"))  # fmt: skip


@needs_kprobes
def test_security_file_permission(agent, tmp_path):
    target = tmp_path / "perm.txt"
    target.write_text("data")
    with Policy(agent, tmp_path, textwrap.dedent(f"""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "file-permission"
    spec:
      kprobes:
      - call: "security_file_permission"
        syscall: false
        args:
        - index: 0
          type: "file"
        - index: 1
          type: "int"
        selectors:
        - matchArgs:
          - index: 0
            operator: "Prefix"
            values:
            - "{tmp_path}"
    """)):  # fmt: skip
        target.read_text()
        ev = agent.wait_for(lambda e: e.get("process_kprobe", {}).get("policy_name")
                            == "file-permission")["process_kprobe"]  # fmt: skip
        assert ev["args"][0]["file_arg"]["path"] == str(target)
        assert ev["args"][1]["int_arg"] == 4  # MAY_READ
        assert "equivalent" not in tetra_list(agent)  # the function itself is hooked


@needs_kprobes
def test_tcp_connect_not_daddr(agent, tmp_path):
    with Policy(agent, tmp_path, textwrap.dedent("""
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
    """)):  # fmt: skip
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
        ev = agent.wait_for(lambda e: e.get("process_kprobe", {}).get("policy_name")
                            == "connect")["process_kprobe"]  # fmt: skip
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
    with Policy(agent, tmp_path, textwrap.dedent(f"""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "deny-open"
    spec:
      kprobes:
      - call: "security_file_open"
        syscall: false
        args:
        - index: 0
          type: "file"
        selectors:
        - matchArgs:
          - index: 0
            operator: "Equal"
            values:
            - "{target}"
          matchActions:
          - action: Override
            argError: -1
    """)):  # fmt: skip
        with pytest.raises(PermissionError) as exc:
            open(target).close()
        assert exc.value.errno == errno.EPERM
        open("/etc/hostname").close()
        ev = agent.wait_for(lambda e: e.get("process_kprobe", {}).get("policy_name")
                            == "deny-open")["process_kprobe"]  # fmt: skip
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
    with Policy(agent, tmp_path, textwrap.dedent(f"""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "lsm-deny-open"
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
            values:
            - "{target}"
          matchActions:
          - action: Override
            argError: -1
    """)):  # fmt: skip
        with pytest.raises(PermissionError):
            open(target).close()
        ev = agent.wait_for(lambda e: e.get("process_lsm", {}).get("policy_name")
                            == "lsm-deny-open")["process_lsm"]  # fmt: skip
        assert ev["function_name"] == "file_open"
        assert ev["args"][0]["file_arg"]["path"] == str(target)
        assert ev["action"] == "KPROBE_ACTION_OVERRIDE"
    open(target).close()


@needs_kprobes
def test_fentries_with_return(agent, tmp_path):
    if not _fentry_ok():
        pytest.skip("BPF trampolines do not load on this kernel")
    with Policy(agent, tmp_path, textwrap.dedent("""
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata:
      name: "fentry-connect"
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
    """)):  # fmt: skip
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        port = srv.getsockname()[1]
        socket.create_connection(("127.0.0.1", port)).close()
        ev = agent.wait_for(lambda e: e.get("process_kprobe", {}).get("policy_name")
                            == "fentry-connect")["process_kprobe"]  # fmt: skip
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
