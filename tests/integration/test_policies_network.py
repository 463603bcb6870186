"""Network arguments on kernel functions: skb selectors (addresses of both families,
protocol, ports), a sock as the return value, sockaddr. They need kprobes: on a kernel
without them these tests skip (run them in the tests/vm kernels)."""

from __future__ import annotations

import socket

import pytest

from .policy_harness import Policy, agent_fixture, kprobe_events, wait_policy_event
from .test_policies_kernel_hooks import needs_kprobes

pytestmark = needs_kprobes


agent = agent_fixture()


def _udp_to(host: str, port: int, family: int = socket.AF_INET) -> None:
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.connect((host, port))  # connected: the sock has the destination too
        s.send(b"ping")


# Tetragon's datagram_518.yaml (ip_output and ip6_output hooks): skb DAddr of either
# family, with Protocol
DATAGRAM_HOOK = """
  - call: "{call}"
    syscall: false
    args:
    - index: 1
      type: sock
      label: "sock"
    - index: 2
      type: skb
      label: "datagram"
    selectors:
      - matchArgs:
        - index: 2
          operator: "Protocol"
          values:
          - "IPPROTO_UDP"
        - index: 2
          operator: "DAddr"
          values:
          - "127.0.0.1/32"
          - "::1/128"
"""
DATAGRAM = """
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "datagram-518"
spec:
  kprobes:""" + "".join(DATAGRAM_HOOK.format(call=c) for c in ("ip_output", "ip6_output"))


def test_skb_daddr_protocol_ipv4_and_ipv6(agent, tmp_path):
    with Policy(agent, tmp_path, DATAGRAM):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
            rx.bind(("127.0.0.2", 0))
            _udp_to("127.0.0.2", rx.getsockname()[1])  # another address: filtered out
            _udp_to("127.0.0.1", 9)
        ev = wait_policy_event(agent, "datagram-518", lambda e: e["function_name"] == "ip_output")
        skb = ev["args"][1]["skb_arg"]
        assert ev["args"][1]["label"] == "datagram"
        assert skb["daddr"] == "127.0.0.1" and skb["dport"] == 9
        assert skb["protocol"] == "IPPROTO_UDP" and skb["family"] == "AF_INET"
        assert skb["proto"] == 17 and skb["len"] > 0
        assert ev["args"][0]["sock_arg"]["protocol"] == "IPPROTO_UDP"
        try:
            _udp_to("::1", 9, socket.AF_INET6)
        except OSError as e:
            pytest.skip(f"no IPv6 loopback in this kernel: {e}")
        ev6 = wait_policy_event(agent, "datagram-518", lambda e: e["function_name"] == "ip6_output")
        skb6 = ev6["args"][1]["skb_arg"]
        assert skb6["daddr"] == "::1" and skb6["saddr"] == "::1" and skb6["dport"] == 9
        assert skb6["family"] == "AF_INET6" and skb6["protocol"] == "IPPROTO_UDP"
        assert ev6["args"][0]["sock_arg"]["family"] == "AF_INET6"
        assert ev6["args"][0]["sock_arg"]["daddr"] == "::1"
        ip_out = [e for e in kprobe_events(agent, "datagram-518")
                  if e["function_name"] == "ip_output"]  # fmt: skip
        assert all(e["args"][1]["skb_arg"]["daddr"] == "127.0.0.1" for e in ip_out)


# Tetragon's tcp-accept.yaml, the hooks with a sock as the return value
TCP_ACCEPT = """
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "accept"
spec:
  kprobes:
  - call: "sk_alloc"
    syscall: false
    return: true
    args:
    - index: 1
      type: int
      label: "family"
    returnArg:
      type: sock
    returnArgAction: TrackSock
    selectors:
    - matchArgs:
      - index: 1
        operator: "Equal"
        values:
        - 2
  - call: "tcp_create_openreq_child"
    syscall: false
    return: true
    args:
    - index: 0
      type: "sock"
    returnArg:
      type: sock
    returnArgAction: TrackSock
"""


def test_sock_return_value(agent, tmp_path):
    with Policy(agent, tmp_path, TCP_ACCEPT):
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        port = srv.getsockname()[1]
        cli = socket.create_connection(("127.0.0.1", port))
        conn, _ = srv.accept()
        cport = cli.getsockname()[1]
        child = wait_policy_event(agent, "accept", lambda e: e["function_name"]
                                  == "tcp_create_openreq_child"
                                  and e["return"]["sock_arg"]["sport"] == port)  # fmt: skip
        for s in (conn, cli, srv):
            s.close()
        ret = child["return"]["sock_arg"]
        assert ret["family"] == "AF_INET" and ret["protocol"] == "IPPROTO_TCP"
        assert ret["saddr"] == "127.0.0.1" and ret["sport"] == port
        assert ret["dport"] == cport
        assert child["args"][0]["sock_arg"]["state"] == "TCP_LISTEN"  # the listener
        assert child["return_action"] == "KPROBE_ACTION_TRACKSOCK"
        alloc = wait_policy_event(agent, "accept", lambda e: e["function_name"] == "sk_alloc")
        assert alloc["args"][0] == {"int_arg": 2, "label": "family"}
        assert alloc["return"]["sock_arg"]["family"] == "AF_INET"
