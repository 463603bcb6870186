"""USDT probes (``spec.usdts``): the SystemTap SDT notes of an ELF file.

Each ``.note.stapsdt`` note names a provider and a probe, the address of the probe's
``nop``, its semaphore (0: none) and how each argument is found at that instruction
(``-4@%edi``, ``8@-16(%rbp)``, ``4@$7``). The planner attaches a uprobe at the probe's
file offset (with the semaphore's offset as the reference counter, which makes the
program's ``if (semaphore)`` true while attached) and reads each argument the note's
way, from the registers the uprobe sees or user memory they point to.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

NT_STAPSDT = 3
# x86_64 register names of the notes -> struct pt_regs fields
_REGS = {}
for _full, _field in (("rax", "ax"), ("rbx", "bx"), ("rcx", "cx"), ("rdx", "dx"),
                      ("rsi", "si"), ("rdi", "di"), ("rbp", "bp"), ("rsp", "sp"),
                      ("rip", "ip")):  # fmt: skip
    _REGS[_full] = _field
    _REGS["e" + _full[1:]] = _field
    _REGS[_full[1:]] = _field
for _low in ("al", "bl", "cl", "dl", "sil", "dil", "bpl", "spl"):
    _REGS[_low] = {"al": "ax", "bl": "bx", "cl": "cx", "dl": "dx"}.get(_low, _low[:-1])
for _n in range(8, 16):
    for _suffix in ("", "d", "w", "b"):
        _REGS[f"r{_n}{_suffix}"] = f"r{_n}"

_ARG = re.compile(r"^(-?)(\d+)@(.+)$")
_MEM = re.compile(r"^(-?(?:0x[0-9a-fA-F]+|\d+))?\(%(\w+)\)$")


@dataclass
class UsdtArg:
    size: int
    signed: bool
    kind: str  # reg | mem | imm
    reg: str = ""
    offset: int = 0  # mem: displacement; imm: the value


@dataclass
class UsdtProbe:
    provider: str
    name: str
    offset: int  # file offset of the probe's instruction (the uprobe's)
    semaphore: int  # file offset of the semaphore, 0 when there is none
    args: list[UsdtArg]


class UsdtError(Exception):
    """The file has no such probe, or a note this engine cannot read."""


def _sections(data: bytes) -> list[tuple[int, ...]]:
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise UsdtError("not a 64-bit ELF file")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    return [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]


def _name(data: bytes, secs, sec) -> str:
    strtab = secs[struct.unpack_from("<H", data, 0x3E)[0]]
    s = strtab[4] + sec[0]
    return data[s : data.index(b"\0", s)].decode(errors="replace")


def _file_offset(secs, vaddr: int) -> int:
    for sec in secs:
        addr, off, size = sec[3], sec[4], sec[5]
        if sec[1] != 8 and addr and addr <= vaddr < addr + size:  # not NOBITS
            return vaddr - addr + off
    raise UsdtError(f"address {vaddr:#x} is in no section of the file")


def parse_arg(spec: str) -> UsdtArg:
    m = _ARG.match(spec)
    if not m:
        raise UsdtError(f"argument {spec!r} is not SIZE@LOCATION")
    signed, size, loc = m.group(1) == "-", int(m.group(2)), m.group(3)
    if size not in (1, 2, 4, 8):
        raise UsdtError(f"argument {spec!r}: size {size}")
    if loc.startswith("$"):
        return UsdtArg(size, signed, "imm", offset=int(loc[1:], 0))
    if loc.startswith("%"):
        reg = _REGS.get(loc[1:])
        if reg is None:
            raise UsdtError(f"argument {spec!r}: register {loc} is not known")
        return UsdtArg(size, signed, "reg", reg)
    mm = _MEM.match(loc)
    if mm and _REGS.get(mm.group(2)):
        return UsdtArg(size, signed, "mem", _REGS[mm.group(2)], int(mm.group(1) or "0", 0))
    raise UsdtError(f"argument {spec!r}: location {loc!r} is not supported")


def find_probe(path: str, provider: str, name: str) -> UsdtProbe:
    """The probe ``provider:name`` of an ELF file (the first site, if it has several)."""
    with open(path, "rb") as f:
        data = f.read()
    secs = _sections(data)
    base_addr = next((s[3] for s in secs if _name(data, secs, s) == ".stapsdt.base"), None)
    for sec in secs:
        if sec[1] != 7 or _name(data, secs, sec) != ".note.stapsdt":  # SHT_NOTE
            continue
        pos, end = sec[4], sec[4] + sec[5]
        while pos + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", data, pos)
            nstart = pos + 12
            dstart = nstart + ((namesz + 3) & ~3)
            pos = dstart + ((descsz + 3) & ~3)
            if ntype != NT_STAPSDT or data[nstart : nstart + namesz] != b"stapsdt\0":
                continue
            pc, base, sem = struct.unpack_from("<QQQ", data, dstart)
            strings = data[dstart + 24 : dstart + descsz].split(b"\0")
            prov, pname = strings[0].decode(), strings[1].decode()
            if (prov, pname) != (provider, name):
                continue
            if base_addr is not None and base:
                pc += base_addr - base  # prelinked files
                if sem:
                    sem += base_addr - base
            argstr = strings[2].decode() if len(strings) > 2 else ""
            args = [parse_arg(a) for a in argstr.split()]
            return UsdtProbe(prov, pname, _file_offset(secs, pc),
                             _file_offset(secs, sem) if sem else 0, args)  # fmt: skip
    raise UsdtError(f"no USDT probe {provider}:{name} in {path}")


def fetch_c(arg: UsdtArg) -> str:
    """C reading one argument in a uprobe program (``ctx``: its struct pt_regs *)."""
    cast = f"{'s' if arg.signed else 'u'}{arg.size * 8}"
    if arg.kind == "imm":
        return f"((u64)({arg.offset}LL))"
    if arg.kind == "reg":
        return f"((u64)({cast})ctx->{arg.reg})"
    return (
        f"({{ {cast} v = 0; bpf_probe_read_user(&v, {arg.size}, "
        f"(void *)(ctx->{arg.reg} + ({arg.offset}LL))); (u64)v; }})"
    )


def address_c(arg: UsdtArg) -> str:
    """The user address of a memory argument (what the Set action writes to)."""
    return f"((void *)(ctx->{arg.reg} + ({arg.offset}LL)))"
