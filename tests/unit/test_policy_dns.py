"""The `dns` argument type without a kernel: validation of Tetragon's dns-egress example,
the refusals (operators, value lengths, a hooked argument that is not a struct msghdr),
the generated C (built with clang) and the decoding of what the kernel writes."""

from __future__ import annotations

import shutil
import struct

import pytest

from appliance.errors import PolicyError
from appliance.policy import decode
from appliance.policy.compiler import compile_policy
from appliance.policy.emit import generate
from appliance.policy.manager import parse_policy
from appliance.policy.plan import AllFeatures, plan_policy
from appliance.policy.validate import validate_text


def _policy(call: str = "udp_sendmsg", index: int = 1, operator: str = "Postfix",
            value: str = "example.com") -> str:  # fmt: skip
    return f"""
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "dns-egress"
spec:
  kprobes:
  - call: "{call}"
    syscall: false
    args:
    - index: 0
      type: "sock"
    - index: {index}
      type: "dns"
      label: "dns"
    selectors:
    - matchArgs:
      - index: 0
        operator: "DPort"
        values:
        - "53"
      - index: {index}
        operator: "{operator}"
        values:
        - "{value}"
"""


class Kprobes(AllFeatures):
    """A kernel with kprobes and no trampolines (the hooks are kprobes)."""

    fentry = False


def test_example_validates_without_problems():
    assert [p for p in validate_text(_policy()) if p.severity != "warning"] == []


@pytest.mark.parametrize(
    "operator,value,why",
    [
        ("DPort", "53", "compared by its query name"),
        ("Equal", "a" * 254, "longer than a DNS name can be (253 bytes)"),
    ],
)
def test_refusals_name_the_selector(operator, value, why):
    with pytest.raises(PolicyError) as e:
        plan_policy(parse_policy(_policy(operator=operator, value=value)), Kprobes())
    assert "selectors[0].matchArgs[1]" in str(e.value) and why in str(e.value)


def test_argument_that_is_not_a_message_refused_with_the_kernel_type():
    # argument 2 of udp_sendmsg is its length (this machine's BTF says so)
    with pytest.raises(PolicyError) as e:
        plan_policy(parse_policy(_policy(index=2)), Kprobes())
    msg = str(e.value)
    assert "spec.kprobes[0].args[1].type" in msg and "size_t" in msg, msg


def test_selector_on_the_lower_case_name_of_a_parsed_query(tmp_path):
    plans = plan_policy(
        parse_policy(_policy(operator="Equal", value="WWW.Example.COM.")), Kprobes()
    )
    src = generate(plans)
    assert "dns_arg(m, 1, 1, (struct msghdr *)" in src  # slot 1 (the sock has 0)
    # Equal on "www.example.com" (15 bytes), only when the kernel parsed a query
    assert "dns_parsed(m->slots[1]) && ((m->lens[1] == 15 && m->slots[1][0] == 119" in src
    if shutil.which("clang"):
        obj, _ = compile_policy(src, str(tmp_path))
        assert obj.endswith(".bpf.o")


def _slot(name: bytes, tx_id: int, flags: int, qtype: int, qclass: int, status: int) -> bytes:
    slot = bytearray(decode.SLOT)
    slot[: len(name) + 1] = name + b"\0"
    decode.DNS_INFO.pack_into(slot, decode.DNS_INFO_AT, tx_id, flags, qtype, qclass, status)
    return bytes(slot)


def test_decoded_question_of_a_parsed_query():
    got = decode._dns(_slot(b"www.example.com", 0xBEEF, 0x0100, 28, 1, decode.DNS_PARSED))
    assert got == {"query_name": "www.example.com", "query_type": 28, "query_class": 1,
                   "flags": 0x0100, "tx_id": 0xBEEF}  # fmt: skip


def test_decoded_unparsed_message_has_no_question():
    # a response (flags 0x8180): the kernel reads no question from it
    assert decode._dns(_slot(b"", 9, 0x8180, 0, 0, 4)) == {"tx_id": 9, "flags": 0x8180}


def test_kernel_layout_matches_the_decoder():
    header = open("bpf/include/dns.h").read()
    assert "#define DNS_INFO_AT (SLOT - 16)" in header
    assert decode.DNS_INFO_AT == decode.SLOT - 16 and decode.DNS_INFO.size == 16
    assert struct.calcsize("<HHHHB7x") == 16
