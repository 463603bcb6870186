"""`dns` arguments: the question of a DNS query a process sends, parsed in the kernel
from its struct msghdr and compared with the string operators on the query name.

Tetragon's dns-egress example hooks udp_sendmsg and udpv6_sendmsg with kprobes (run
where the kernel has them: the tests/vm kernels). On a kernel without kprobes, the raw
tracepoint tcp:tcp_sendmsg_locked (Linux 6.11+) passes the struct msghdr of a TCP send,
so a DNS message written on a loopback TCP connection exercises the same parser.
"""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import textwrap
import time

import pytest

from appliance.bpf.libbpf import raw_tracepoint_params

from .conftest import kernel_function_traceable, kernel_has_kprobes, start_policy_agent
from .test_policies import Policy, tetra

BTF = "/sys/kernel/btf/vmlinux"


def dns_query(name: str, qtype: int = 1, tx_id: int = 0x1234, flags: int = 0x0100) -> bytes:
    """A DNS query message with one question (RD set), as a resolver sends it."""
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p)
    return (
        struct.pack(">HHHHHH", tx_id, flags, 1, 0, 0, 0)
        + labels
        + b"\0"
        + struct.pack(">HH", qtype, 1)
    )


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    a = start_policy_agent(tmp_path_factory)
    yield a
    a.stop()


def _events(agent, kind: str, policy: str, pid: int) -> list[dict]:
    return [e[kind] for e in agent.events()
            if e.get(kind, {}).get("policy_name") == policy
            and e[kind]["process"]["pid"] == pid]  # fmt: skip


def _wait(agent, kind: str, policy: str, pid: int) -> dict:
    return agent.wait_for(
        lambda e: e.get(kind, {}).get("policy_name") == policy and e[kind]["process"]["pid"] == pid
    )[kind]


# ---------------------------------------------------------------------------
# kprobes: Tetragon's dns-egress example, unchanged
# ---------------------------------------------------------------------------

DNS_EGRESS = """
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "dns-egress"
spec:
  kprobes:
  - call: "udp_sendmsg"
    syscall: false
    args:
    - index: 0
      type: "sock"
    - index: 1
      type: "dns"
      label: "dns"
    selectors:
    - matchArgs:
      - index: 0
        operator: "DPort"
        values:
        - "53"
      - index: 1
        operator: "Postfix"
        values:
        - "example.com"

  - call: "udpv6_sendmsg"
    syscall: false
    args:
    - index: 0
      type: "sock"
    - index: 1
      type: "dns"
      label: "dns"
    selectors:
    - matchArgs:
      - index: 0
        operator: "DPort"
        values:
        - "53"
      - index: 1
        operator: "Postfix"
        values:
        - "example.com"
"""

# a connected UDP socket to port 53 of a loopback address (the sock carries the port,
# as a resolver's does); nothing needs to listen: the query is sent all the same
SEND_UDP = """
import socket, sys
family, addr = (socket.AF_INET6, "::1") if sys.argv[1] == "6" else (socket.AF_INET, "127.0.0.1")
for q in sys.argv[2:]:
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.connect((addr, 53))
    s.send(bytes.fromhex(q))
    s.close()
"""


def _send_udp(family: str, *messages: bytes) -> int:
    child = subprocess.Popen([sys.executable, "-c", SEND_UDP, family, *(m.hex() for m in messages)])
    assert child.wait() == 0
    return child.pid


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.connect(("::1", 53))
        return True
    except OSError:
        return False


def _need_kprobes(*fns: str) -> None:
    if not kernel_has_kprobes():
        pytest.skip("kernel without kprobes")
    for fn in fns:
        if not kernel_function_traceable(fn):
            pytest.skip(f"{fn} is not traceable on this kernel")


def test_dns_egress_example_reports_queries_under_example_com(agent, tmp_path):
    _need_kprobes("udp_sendmsg", "udpv6_sendmsg")
    with Policy(agent, tmp_path, DNS_EGRESS):
        pid = _send_udp(
            "4", dns_query("WWW.Example.com", 28, tx_id=0xBEEF), dns_query("example.org")
        )
        ev = _wait(agent, "process_kprobe", "dns-egress", pid)
        assert ev["function_name"] == "udp_sendmsg"
        sock, dns = ev["args"]
        assert sock["sock_arg"]["dport"] == 53 and sock["sock_arg"]["protocol"] == "IPPROTO_UDP"
        assert dns == {
            "dns_arg": {
                "query_name": "www.example.com",
                "query_type": 28,
                "query_class": 1,
                "flags": 0x0100,
                "tx_id": 0xBEEF,
            },
            "label": "dns",
        }
        if _ipv6_loopback():
            pid6 = _send_udp("6", dns_query("mail.example.com"))
            ev6 = _wait(agent, "process_kprobe", "dns-egress", pid6)
            assert ev6["function_name"] == "udpv6_sendmsg"
            assert ev6["args"][1]["dns_arg"]["query_name"] == "mail.example.com"
        time.sleep(0.5)
        # example.org is not under example.com: filtered in the kernel
        names = [e["args"][1]["dns_arg"]["query_name"]
                 for e in _events(agent, "process_kprobe", "dns-egress", pid)]  # fmt: skip
        assert names == ["www.example.com"]


def test_dns_type_checked_against_btf(agent, tmp_path):
    _need_kprobes("udp_sendmsg")
    # argument 0 of udp_sendmsg is the sock, not the message
    bad = DNS_EGRESS.split('\n  - call: "udpv6_sendmsg"')[0].replace(
        'index: 1\n      type: "dns"', 'index: 0\n      type: "dns"'
    )
    path = tmp_path / "dns-btf.yaml"
    path.write_text(textwrap.dedent(bad))
    out = tetra(agent, "tracingpolicy", "add", str(path), check=False)
    assert out.returncode != 0
    msg = out.stdout + out.stderr
    assert "spec.kprobes[0].args[1].type" in msg and "struct sock *" in msg, msg


# ---------------------------------------------------------------------------
# raw tracepoint: the same parser on this kernel's tcp_sendmsg_locked
# ---------------------------------------------------------------------------


def _tcp_policy(name: str, operator: str, *values: str) -> str:
    vals = "\n".join(f'        - "{v}"' for v in values)
    # tcp:tcp_sendmsg_locked(const struct sock *sk, const struct msghdr *msg, ...)
    return f"""
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "{name}"
spec:
  tracepoints:
  - subsystem: "tcp"
    event: "tcp_sendmsg_locked"
    raw: true
    args:
    - index: 1
      type: "dns"
    selectors:
    - matchArgs:
      - index: 1
        operator: "{operator}"
        values:
{vals}
"""


SEND_TCP = """
import socket, sys
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
c = socket.create_connection(srv.getsockname()); peer, _ = srv.accept()
for m in sys.argv[1:]:
    c.sendall(bytes.fromhex(m)); peer.recv(4096)
"""


def _send_tcp(*messages: bytes) -> int:
    child = subprocess.Popen([sys.executable, "-c", SEND_TCP, *(m.hex() for m in messages)])
    assert child.wait() == 0
    return child.pid


def _need_tcp_tracepoint() -> None:
    params = raw_tracepoint_params(BTF, "tcp_sendmsg_locked")
    if not params or params[1] != "struct msghdr *":
        pytest.skip("no raw tracepoint tcp_sendmsg_locked with a struct msghdr (Linux 6.11+)")


def test_raw_tracepoint_query_name_fields_and_operators(agent, tmp_path):
    _need_tcp_tracepoint()
    equal = Policy(agent, tmp_path, _tcp_policy("dns-eq", "Equal", "Host.Example.COM."))
    prefix = Policy(agent, tmp_path, _tcp_policy("dns-prefix", "Prefix", "api."))
    notpost = Policy(agent, tmp_path, _tcp_policy("dns-not-org", "NotPostfix", ".org"))
    with equal, prefix, notpost:
        long_name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])  # 253 characters
        messages = [
            dns_query("host.example.com", 1, tx_id=7),
            dns_query("api.example.org", 16),
            dns_query(long_name, 255),
            dns_query("host.example.com", flags=0x8180),  # a response: no question parsed
            b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01",
            dns_query("host.example.com")[:20],  # cut inside the name
        ]
        pid = _send_tcp(*messages)
        ev = _wait(agent, "process_tracepoint", "dns-eq", pid)
        assert ev["args"] == [
            {
                "dns_arg": {
                    "query_name": "host.example.com",
                    "query_type": 1,
                    "query_class": 1,
                    "flags": 0x0100,
                    "tx_id": 7,
                }
            }
        ]
        _wait(agent, "process_tracepoint", "dns-prefix", pid)
        time.sleep(0.5)
        eq = [e["args"][0]["dns_arg"] for e in _events(agent, "process_tracepoint", "dns-eq", pid)]
        assert [d["query_name"] for d in eq] == ["host.example.com"]
        pre = [
            e["args"][0]["dns_arg"] for e in _events(agent, "process_tracepoint", "dns-prefix", pid)
        ]
        assert [(d["query_name"], d["query_type"]) for d in pre] == [("api.example.org", 16)]
        # NotPostfix: parsed queries only; a response, a compressed or a cut name has none
        rest = [
            e["args"][0]["dns_arg"]
            for e in _events(agent, "process_tracepoint", "dns-not-org", pid)
        ]
        assert [(d["query_name"], d["query_type"]) for d in rest] == [
            ("host.example.com", 1),
            (long_name, 255),
        ]


def test_raw_tracepoint_unparsed_messages_reported_without_a_question(agent, tmp_path):
    _need_tcp_tracepoint()
    # no selector: every send is reported, with what could be read
    text = _tcp_policy("dns-all", "Equal", "x").split("    selectors:")[0]
    with Policy(agent, tmp_path, text):
        pid = _send_tcp(dns_query("a.example", flags=0x8180, tx_id=9), b"short")
        evs = []
        deadline = time.time() + 10
        while len(evs) < 2 and time.time() < deadline:
            time.sleep(0.2)
            evs = _events(agent, "process_tracepoint", "dns-all", pid)
        args = [e["args"][0] for e in evs]
        assert args[0] == {"dns_arg": {"tx_id": 9, "flags": 0x8180}}
        assert args[1] == {"dns_arg": {}}  # shorter than a header: nothing to report


def test_operator_and_value_checked_with_path(agent, tmp_path):
    params = raw_tracepoint_params(BTF, "tcp_sendmsg_locked")
    if params and params[1] == "struct msghdr *":

        def bad_policy(op: str, value: str) -> str:
            return _tcp_policy("dns-bad", op, value)

        where = "spec.tracepoints[0].selectors[0].matchArgs[0]"
    elif kernel_has_kprobes() and kernel_function_traceable("udp_sendmsg"):

        def bad_policy(op: str, value: str) -> str:
            first = DNS_EGRESS.split('\n  - call: "udpv6_sendmsg"')[0]
            return first.replace('"Postfix"', f'"{op}"').replace('"example.com"', f'"{value}"')

        where = "spec.kprobes[0].selectors[0].matchArgs[1]"
    else:
        pytest.skip("no hook passing a struct msghdr on this kernel")
    for op, value, field, why in [
        ("DPort", "53", "operator", "dns"),
        ("Equal", "a" * 254, "values[0]", "253"),
    ]:
        path = tmp_path / "bad.yaml"
        path.write_text(textwrap.dedent(bad_policy(op, value)))
        out = tetra(agent, "tracingpolicy", "add", str(path), check=False)
        assert out.returncode != 0
        msg = out.stdout + out.stderr
        assert f"{where}.{field}" in msg and why in msg, msg
