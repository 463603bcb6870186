"""Kernel functions this host cannot hook, observed on their equivalents.

On a kernel without kprobes and fentry, `security_file_permission` attaches to the
read/write family of syscall tracepoints; the events keep the function's name and
arguments (the file resolved from the fd, MAY_READ/MAY_WRITE), and Sigkill still kills.
On kernels with kprobes the original attaches (tests/vm: test_policies_kernel_hooks.py).
"""

from __future__ import annotations

import os
import subprocess

import pytest

from appliance.cli.compact import event_line

from .policy_harness import (
    Policy,
    agent_fixture,
    arg_selector,
    kprobe_events,
    policy_yaml,
    tetra,
)
from .test_policies_kernel_hooks import HAS_KPROBES, _fentry_ok

pytestmark = pytest.mark.skipif(
    HAS_KPROBES or _fentry_ok(),
    reason="this kernel hooks security_file_permission itself: the equivalent is not used",
)

CAT = "/usr/bin/cat"


def _file_policy(name: str, action: str, binary: str = "") -> str:
    """The shape of Tetragon's quickstart file_monitoring policy, on /etc/shadow only."""
    binaries = f'matchBinaries:\n- operator: "In"\n  values:\n  - "{binary}"\n' if binary else ""
    then = binaries + f"matchActions:\n- action: {action}"
    selector = arg_selector(0, "Prefix", "/etc/shadow", then=then)
    return policy_yaml(name, "security_file_permission", ["file", "int"], selector, syscall=False)


agent = agent_fixture()


def test_read_of_shadow_is_posted_as_security_file_permission(agent, tmp_path):
    with Policy(agent, tmp_path, _file_policy("file-monitoring-shadow", "Post")):
        listed = tetra(agent, "tracingpolicy", "list", "-o", "json").stdout
        assert "security_file_permission: equivalent on syscalls/sys_enter_{read," in listed
        assert "mmap" in listed and "are not seen" in listed
        out = subprocess.run([CAT, "/etc/shadow"], capture_output=True)
        assert out.returncode == 0
        ev = agent.wait_for(
            lambda e: (
                e.get("process_kprobe", {}).get("policy_name") == "file-monitoring-shadow"
                and e["process_kprobe"]["process"].get("binary") == CAT
            )
        )
        kp = ev["process_kprobe"]
        assert kp["function_name"] == "security_file_permission"
        assert kp["args"][0]["file_arg"]["path"] == "/etc/shadow"
        assert kp["args"][1]["int_arg"] == 4  # MAY_READ
        assert kp["action"] == "KPROBE_ACTION_POST"
        line = event_line(ev)
        assert line is not None and "📚 read" in line and "/etc/shadow" in line
        assert all(e["args"][0]["file_arg"]["path"].startswith("/etc/shadow")
                   for e in kprobe_events(agent, "file-monitoring-shadow"))  # fmt: skip


def test_write_is_posted_with_may_write(agent, tmp_path):
    target = tmp_path / "written.txt"
    policy = _file_policy("file-monitoring-write", "Post").replace("/etc/shadow", str(target))
    with Policy(agent, tmp_path, policy):
        fd = os.open(target, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.write(fd, b"x")
        finally:
            os.close(fd)
        ev = agent.wait_for(
            lambda e: e.get("process_kprobe", {}).get("policy_name") == "file-monitoring-write"
        )
        kp = ev["process_kprobe"]
        assert kp["args"][0]["file_arg"]["path"] == str(target)
        assert kp["args"][1]["int_arg"] == 2  # MAY_WRITE
        assert "📝 write" in (event_line(ev) or "")


def test_sigkill_on_read_of_shadow_kills_cat(agent, tmp_path):
    # only cat: nothing else on the machine that reads /etc/shadow meanwhile is killed
    with Policy(agent, tmp_path, _file_policy("file-monitoring-enforce", "Sigkill", CAT)):
        out = subprocess.run(
            ["/bin/sh", "-c", f"{CAT} /etc/shadow >/dev/null; echo $?"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert out.stdout.strip() == "137", out
        ev = agent.wait_for(
            lambda e: e.get("process_kprobe", {}).get("policy_name") == "file-monitoring-enforce"
        )
        assert ev["process_kprobe"]["action"] == "KPROBE_ACTION_SIGKILL"
        ok = subprocess.run([CAT, "/etc/hostname"], capture_output=True)
        assert ok.returncode == 0


def test_override_still_needs_the_function(agent, tmp_path):
    policy = tmp_path / "override.yaml"
    policy.write_text(_file_policy("file-override", "Override\n  argError: -1"))
    out = tetra(agent, "tracingpolicy", "add", str(policy), check=False)
    assert out.returncode != 0
    assert "Override" in out.stderr and "security_file_permission" in out.stderr
    assert "file-override" not in tetra(agent, "tracingpolicy", "list").stdout


CONNECT_POLICY = policy_yaml(
    "connect-equivalent",
    "tcp_connect",
    ["sock"],
    arg_selector(0, "NotDAddr", "127.0.0.1"),
    syscall=False,
)

# a server on a non-loopback address and two clients, all in the test's network namespace
CONNECT_CODE = """
import socket
srv = socket.socket(); srv.bind(("192.0.2.1", 80)); srv.listen()
lo = socket.socket(); lo.bind(("127.0.0.1", 0)); lo.listen()
socket.create_connection(lo.getsockname(), timeout=5).close()
socket.create_connection(("192.0.2.1", 80), timeout=5).close()
print("connected")
"""


@pytest.fixture
def netns():
    """A network namespace with 192.0.2.1/24 on a veth pair of its own; removed after."""
    name = f"tetra-eq-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for cmd in (["link", "add", "eq0", "type", "veth", "peer", "name", "eq1"],
                    ["addr", "add", "192.0.2.1/24", "dev", "eq0"], ["link", "set", "eq0", "up"],
                    ["link", "set", "eq1", "up"], ["link", "set", "lo", "up"]):  # fmt: skip
            subprocess.run(["ip", "-n", name, *cmd], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_tcp_connect_on_sys_enter_connect(agent, tmp_path, netns):
    with Policy(agent, tmp_path, CONNECT_POLICY):
        assert (
            "tcp_connect: equivalent on syscalls/sys_enter_{connect}"
            in tetra(agent, "tracingpolicy", "list").stdout
        )
        out = subprocess.run(["ip", "netns", "exec", netns, "python3", "-c", CONNECT_CODE],
                             capture_output=True, text=True, timeout=30)  # fmt: skip
        assert out.stdout.strip() == "connected", out.stderr
        # other processes of the machine connect too: wait for the test's own connect
        ev = agent.wait_for(
            lambda e: (
                e.get("process_kprobe", {}).get("policy_name") == "connect-equivalent"
                and e["process_kprobe"]["args"][0]["sock_arg"].get("daddr") == "192.0.2.1"
            )
        )
        kp = ev["process_kprobe"]
        assert kp["function_name"] == "tcp_connect"
        sock = kp["args"][0]["sock_arg"]
        assert (sock["dport"], sock["protocol"]) == (80, "IPPROTO_TCP")
        line = event_line(ev) or ""
        assert "🔌 connect" in line and "192.0.2.1:80" in line
        # the loopback connect came first: had it been posted, its event would be in already
        assert all(e["args"][0]["sock_arg"]["daddr"] != "127.0.0.1"
                   for e in kprobe_events(agent, "connect-equivalent"))  # fmt: skip
