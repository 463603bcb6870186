"""Register assignments of Override and Regs on uprobes: `argRegs` ("rax=11") and
`argReg` ("rax:0x123") entries turned into C that writes the traced program's
registers through the uprobe's context, which newer kernels let uprobe programs do.

A value is a number, another register (``rsp``, ``%rsp``, ``rsp+8``) or 8 bytes of the
program's memory at a register plus an offset (``(%rsp)``, ``8(%rsp)``). Every value is
read before any register is written, so ``rip=(%rsp)`` and ``rsp=rsp+8`` both see the
registers the probe found: together with ``rax=ERR`` they return ERR to the caller, which
is what Override with argError does at a function's entry."""

from __future__ import annotations

import platform
import re

from appliance.errors import PolicyError

#: register name -> struct pt_regs member, by architecture
X86_64 = {
    "rax": "ax", "rbx": "bx", "rcx": "cx", "rdx": "dx", "rsi": "si", "rdi": "di",
    "rbp": "bp", "rsp": "sp", "rip": "ip", "r8": "r8", "r9": "r9", "r10": "r10",
    "r11": "r11", "r12": "r12", "r13": "r13", "r14": "r14", "r15": "r15",
}  # fmt: skip
ARM64 = {f"x{i}": f"regs[{i}]" for i in range(31)} | {"sp": "sp", "pc": "pc", "lr": "regs[30]"}

_NUM = r"[-+]?(?:0[xX][0-9a-fA-F]+|\d+)"
_REG = r"%?(?P<reg>[a-z][a-z0-9]*)"
_VALUE = re.compile(
    rf"^(?:(?P<num>{_NUM})"
    rf"|{_REG}(?:\s*(?P<sign>[-+])\s*(?P<add>{_NUM}))?"
    rf"|(?P<off>{_NUM})?\(%?(?P<mreg>[a-z][a-z0-9]*)\))$"
)


def registers() -> dict[str, str]:
    return ARM64 if platform.machine() in ("aarch64", "arm64") else X86_64


def return_assignments(error: int) -> list[str]:
    """Override with argError at a function's entry: the error in the return register,
    back to the caller as its `ret` (x86_64) or `ret x30` (arm64) would."""
    if registers() is ARM64:
        return [f"x0={error}", "pc=lr"]
    return [f"rax={error}", "rip=(%rsp)", "rsp=rsp+8"]


def _int(text: str, path: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise PolicyError(f"{path}: {text!r} is not a number") from None


def _member(name: str, path: str) -> str:
    regs = registers()
    if name not in regs:
        raise PolicyError(f"{path}: unknown register {name!r} (known: {', '.join(sorted(regs))})")
    return regs[name]


def parse(entry: str, path: str) -> tuple[str, str]:
    """One "reg=value" / "reg:value" entry -> (member written, C expression of the value)."""
    m = re.match(r"^\s*%?([a-z][a-z0-9]*)\s*[=:]\s*(.+?)\s*$", entry)
    if not m:
        raise PolicyError(f"{path}: {entry!r} is not register=value (e.g. rax=11)")
    dst, text = _member(m.group(1), path), m.group(2)
    v = _VALUE.match(text)
    if not v:
        raise PolicyError(
            f"{path}: {text!r} is not a value: a number, a register (rsp, rsp+8) or memory "
            "at a register ((%rsp), 8(%rsp))"
        )
    if v.group("num"):
        return dst, f"(u64){_int(v.group('num'), path)}LL"
    if v.group("reg"):
        src = f"ctx->{_member(v.group('reg'), path)}"
        if v.group("add"):
            src = f"({src} {v.group('sign')} {_int(v.group('add'), path)}LL)"
        return dst, f"(u64){src}"
    off = _int(v.group("off") or "0", path)
    return dst, f"umem_u64(ctx->{_member(v.group('mreg'), path)} + {off}LL)"


def assign_c(entries: list[str], path: str) -> str:
    """C that reads every value, then writes every register, in the entries' order."""
    pairs = [parse(e, f"{path}[{i}]") for i, e in enumerate(entries)]
    reads = " ".join(f"u64 rv{i} = {expr};" for i, (_, expr) in enumerate(pairs))
    writes = " ".join(f"ctx->{dst} = rv{i};" for i, (dst, _) in enumerate(pairs))
    return f"{{ {reads} {writes} }}"
