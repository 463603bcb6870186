"""Register assignments of Override and Regs on uprobes (appliance.policy.uregs)."""

from __future__ import annotations

import pytest

from appliance.errors import PolicyError
from appliance.policy import uregs


@pytest.fixture(autouse=True)
def _x86(monkeypatch):
    monkeypatch.setattr(uregs.platform, "machine", lambda: "x86_64")


@pytest.mark.parametrize(
    ("entry", "want"),
    [
        ("rax=11", ("ax", "(u64)11LL")),
        ("rax:0x123", ("ax", "(u64)291LL")),
        ("rdi = -1", ("di", "(u64)-1LL")),
        ("rip=(%rsp)", ("ip", "umem_u64(ctx->sp + 0LL)")),
        ("rbp=8(%rsp)", ("bp", "umem_u64(ctx->sp + 8LL)")),
        ("rsp=rsp+8", ("sp", "(u64)(ctx->sp + 8LL)")),
        ("r8=%r9", ("r8", "(u64)ctx->r9")),
    ],
)
def test_values(entry, want):
    assert uregs.parse(entry, "p") == want


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("eax=1", "p: unknown register 'eax'"),
        ("rax", "p: 'rax' is not register=value (e.g. rax=11)"),
        ("rax=rsp*2", "p: 'rsp*2' is not a value"),
    ],
)
def test_refusals(entry, message):
    with pytest.raises(PolicyError) as e:
        uregs.parse(entry, "p")
    assert str(e.value).startswith(message)


def test_values_are_read_before_registers_are_written():
    c = uregs.assign_c(uregs.return_assignments(-1), "p")
    # the return address is read at the stack pointer the probe found, then sp moves
    assert c == (
        "{ u64 rv0 = (u64)-1LL; u64 rv1 = umem_u64(ctx->sp + 0LL); "
        "u64 rv2 = (u64)(ctx->sp + 8LL); ctx->ax = rv0; ctx->ip = rv1; ctx->sp = rv2; }"
    )
