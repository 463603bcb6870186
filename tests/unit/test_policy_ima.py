"""Post imaHash on LSM hooks, without a kernel: the plan (the event program, a sleepable
program after it and a slot for the hash), the refusal that names the missing kernel
feature, the generated C (built with clang) and the decoding of the hash the kernel
writes."""

from __future__ import annotations

import hashlib
import struct

import pytest

from appliance.errors import PolicyError
from appliance.policy import decode
from appliance.policy.compiler import compile_policy
from appliance.policy.emit import generate
from appliance.policy.manager import parse_policy
from appliance.policy.plan import AllFeatures, plan_policy


def _policy(hook: str = "file_open", arg: str = "file", ima: bool = True) -> str:
    return f"""
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: ima
spec:
  lsmhooks:
  - hook: "{hook}"
    args:
    - index: 0
      type: "{arg}"
    selectors:
    - matchArgs:
      - index: 0
        operator: "Prefix"
        values: ["/tmp/"]
      matchActions:
      - action: Post
        imaHash: {str(ima).lower()}
    - matchArgs:
      - index: 0
        operator: "Prefix"
        values: ["/etc/"]
"""


class NoIma(AllFeatures):
    """A kernel with the bpf LSM but no sleepable program calling bpf_ima_file_hash."""

    ima_hash = False


def test_sleepable_program_after_the_event_program_and_hash_slot():
    (plan,) = plan_policy(parse_policy(_policy()), AllFeatures(), offline=True)
    assert plan.section == "lsm/file_open"  # filtering never sleeps
    # attached before hook_0: a trampoline runs the program attached last first
    assert plan.pre_attach == [("hook_0_ima", "auto", "")]
    assert plan.ima_selectors == {0}
    assert plan.ima_slot == plan.nslots - 1


def test_without_ima_hash_no_sleepable_program():
    (plan,) = plan_policy(parse_policy(_policy(ima=False)), AllFeatures(), offline=True)
    assert plan.section == "lsm/file_open"
    assert plan.pre_attach == []
    assert plan.ima_slot == -1


def test_refused_where_the_kernel_lacks_it():
    with pytest.raises(PolicyError) as e:
        plan_policy(parse_policy(_policy()), NoIma(), offline=True)
    msg = str(e.value)
    assert msg.startswith("spec.lsmhooks[0].selectors[0].matchActions: imaHash needs")
    assert "bpf_ima_file_hash" in msg and "5.18" in msg and "CONFIG_IMA" in msg


def test_refused_on_a_hook_without_a_file():
    with pytest.raises(PolicyError, match="not available on LSM hook task_alloc"):
        plan_policy(parse_policy(_policy("task_alloc", "int")), AllFeatures(), offline=True)


def test_stack_traces_go_with_ima_hash():
    text = _policy().replace("imaHash: true", "imaHash: true\n        kernelStackTrace: true")
    (plan,) = plan_policy(parse_policy(text), AllFeatures(), offline=True)
    assert plan.stack_slot >= 0 and plan.ima_slot >= 0


@pytest.mark.parametrize(
    ("hook", "arg", "file_c"),
    [
        ("file_open", "file", "(struct file *)obj"),
        ("bprm_check_security", "linux_binprm", "((struct linux_binprm *)obj)->file"),
    ],
)
def test_generated_c_hashes_the_hooked_file(hook, arg, file_c, tmp_path):
    plans = plan_policy(parse_policy(_policy(hook, arg)), AllFeatures(), offline=True)
    src = generate(plans)
    assert f'SEC("lsm/{hook}")' in src and f'SEC("lsm.s/{hook}")' in src
    # the imaHash selector keeps its event for the sleepable program; the other sends it
    assert src.count("bpf_map_update_elem(&ima_pending, &id, m, BPF_ANY)") == 1
    assert f"ima_hash_slot(m, {plans[0].ima_slot}, {file_c})" in src
    obj, _cached = compile_policy(src, str(tmp_path))
    assert obj.endswith(".o")


def test_decoded_as_algorithm_and_hex_digest():
    (plan,) = plan_policy(parse_policy(_policy()), AllFeatures(), offline=True)
    digest = hashlib.sha256(b"content").digest()
    data = bytearray(decode.SLOTS_AT + plan.nslots * decode.SLOT)
    base = decode.SLOTS_AT + plan.ima_slot * decode.SLOT
    struct.pack_into("<q", data, base, 4)  # HASH_ALGO_SHA256
    data[base + 8 : base + 8 + 64] = digest + b"\xff" * 32
    want = "sha256:" + hashlib.sha256(b"content").hexdigest()
    assert decode.ima_hash(plan, bytes(data), 0) == {"ima_hash": want}
    assert decode.ima_hash(plan, bytes(data), 1) == {}  # a selector without imaHash
    struct.pack_into("<q", data, base, -2)  # -ENOENT: no hash
    assert decode.ima_hash(plan, bytes(data), 0) == {}


def test_why_an_event_has_no_hash():
    assert "file_open" in decode.ima_error(-95)  # EOPNOTSUPP: IMA could not read the file
    assert decode.ima_error(-2).endswith("ENOENT")
    assert decode.ima_error(99) == "unknown hash algorithm 99"
