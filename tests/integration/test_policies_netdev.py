"""`net_device` arguments: a device reported by name (Tetragon's string_arg) and filtered
with the string operators, read from a raw tracepoint's BTF-typed `struct net_device *`
on this kernel, and from a kprobe where the kernel has kprobes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from .conftest import kernel_function_traceable, kernel_has_kprobes, start_policy_agent
from .test_policies import Policy, tetra

# one UDP datagram to the loopback device, sent by the child whose pid the test knows
SEND_UDP = (
    "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM);"
    " s.sendto(b'x', ('127.0.0.1', 9))"
)


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    a = start_policy_agent(tmp_path_factory)
    yield a
    a.stop()


def _xmit_policy(name: str, operator: str, value: str) -> str:
    # net:net_dev_start_xmit(const struct sk_buff *skb, const struct net_device *dev)
    return f"""
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "{name}"
spec:
  tracepoints:
  - subsystem: "net"
    event: "net_dev_start_xmit"
    raw: true
    args:
    - index: 1
      type: "net_device"
    selectors:
    - matchArgs:
      - index: 1
        operator: "{operator}"
        values:
        - "{value}"
"""


def _events_of(agent, policy: str, pid: int) -> list[dict]:
    return [e["process_tracepoint"] for e in agent.events()
            if e.get("process_tracepoint", {}).get("policy_name") == policy
            and e["process_tracepoint"]["process"]["pid"] == pid]  # fmt: skip


def test_raw_tracepoint_net_device_name_and_filters(agent, tmp_path):
    eq = Policy(agent, tmp_path, _xmit_policy("netdev-lo", "Equal", "lo"))
    prefix = Policy(agent, tmp_path, _xmit_policy("netdev-prefix", "Prefix", "l"))
    other = Policy(agent, tmp_path, _xmit_policy("netdev-not-lo", "NotEqual", "lo"))
    with eq, prefix, other:
        child = subprocess.Popen([sys.executable, "-c", SEND_UDP])
        assert child.wait() == 0
        pid = child.pid
        ev = agent.wait_for(
            lambda e: (
                e.get("process_tracepoint", {}).get("policy_name") == "netdev-lo"
                and e["process_tracepoint"]["process"]["pid"] == pid
            )
        )["process_tracepoint"]
        assert ev["subsys"] == "net" and ev["event"] == "net_dev_start_xmit"
        assert ev["args"] == [{"string_arg": "lo"}]
        agent.wait_for(
            lambda e: (
                e.get("process_tracepoint", {}).get("policy_name") == "netdev-prefix"
                and e["process_tracepoint"]["process"]["pid"] == pid
            )
        )
        time.sleep(0.5)  # what the third program would have sent is in by now
        assert _events_of(agent, "netdev-not-lo", pid) == []


def test_net_device_operators_checked_with_path(agent, tmp_path):
    bad = _xmit_policy("netdev-bad", "SAddr", "127.0.0.1")
    path = tmp_path / "netdev-bad.yaml"
    path.write_text(textwrap.dedent(bad))
    out = tetra(agent, "tracingpolicy", "add", str(path), check=False)
    assert out.returncode != 0
    msg = out.stdout + out.stderr
    assert "spec.tracepoints[0].selectors[0].matchArgs[0].operator" in msg, msg
    assert "net_device" in msg, msg


def test_net_device_type_checked_against_btf(agent, tmp_path):
    # argument 0 of net_dev_start_xmit is the sk_buff, not the device
    bad = _xmit_policy("netdev-btf", "Equal", "lo").replace("index: 1", "index: 0")
    path = tmp_path / "netdev-btf.yaml"
    path.write_text(textwrap.dedent(bad))
    out = tetra(agent, "tracingpolicy", "add", str(path), check=False)
    assert out.returncode != 0
    msg = out.stdout + out.stderr
    assert "spec.tracepoints[0].args[0].type" in msg and "struct sk_buff *" in msg, msg


# dev_set_mtu_ext(struct net_device *dev, int new_mtu, ...): `ip link set lo mtu N`
MTU_POLICY = """
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "netdev-mtu"
spec:
  kprobes:
  - call: "dev_set_mtu_ext"
    syscall: false
    args:
    - index: 0
      type: "net_device"
    - index: 1
      type: "int"
    selectors:
    - matchArgs:
      - index: 0
        operator: "Postfix"
        values:
        - "o"
"""


@pytest.mark.skipif(not kernel_has_kprobes(), reason="kernel without kprobes")
def test_kprobe_net_device(agent, tmp_path):
    if not kernel_function_traceable("dev_set_mtu_ext"):
        pytest.skip("dev_set_mtu_ext is not traceable on this kernel")
    mtu = open("/sys/class/net/lo/mtu").read().strip()
    with Policy(agent, tmp_path, MTU_POLICY):
        try:
            subprocess.run(["ip", "link", "set", "lo", "mtu", "1500"], check=True)
        finally:
            subprocess.run(["ip", "link", "set", "lo", "mtu", mtu], check=True)
        ev = agent.wait_for(
            lambda e: (
                e.get("process_kprobe", {}).get("policy_name") == "netdev-mtu"
                and e["process_kprobe"]["args"][1].get("int_arg") == 1500
            )
        )["process_kprobe"]
        assert ev["function_name"] == "dev_set_mtu_ext"
        assert ev["args"][0] == {"string_arg": "lo"}
