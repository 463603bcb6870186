"""Struct layouts from the BTF section of a BPF object file, for the wire layout test.

Reads only what the test needs: the ELF section ``.BTF`` and, from it, each named
struct flattened into its scalar leaves (byte offset, size, signedness), arrays and
nested structs expanded, so it can be set beside a Python ``struct`` format.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT = range(1, 12)
FUNC, FUNC_PROTO, VAR, DATASEC, FLOAT, DECL_TAG, TYPE_TAG, ENUM64 = range(12, 20)
BTF_INT_SIGNED = 1


@dataclass(frozen=True, slots=True)
class Leaf:
    """One scalar of a struct: where it is, how wide, signed or not (None: unknown)."""

    offset: int
    size: int
    signed: bool | None


@dataclass(slots=True)
class _Type:
    kind: int
    name: str
    size_or_type: int
    extra: object = None  # INT: encoding word; ARRAY: (elem, n); STRUCT: [(name, type, bitoff)]


def elf_section(path: str, wanted: str) -> bytes:
    """The bytes of section ``wanted`` of a little-endian ELF64 file."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError(f"{path}: not a little-endian ELF64 file")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def header(i: int) -> tuple[int, int, int]:
        name, _t, _f, _a, off, size = struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
        return name, off, size

    _n, stroff, _s = header(shstrndx)
    for i in range(shnum):
        name, off, size = header(i)
        end = data.index(b"\0", stroff + name)
        if data[stroff + name : end].decode() == wanted:
            return data[off : off + size]
    raise ValueError(f"{path}: no {wanted} section (built without -g?)")


def _parse(btf: bytes) -> list[_Type]:
    magic, _ver, _flags, hdr_len, type_off, type_len, str_off, _str_len = struct.unpack_from(
        "<HBBIIIII", btf
    )
    if magic != 0xEB9F:
        raise ValueError("not BTF data (bad magic)")
    strings = btf[hdr_len + str_off :]

    def name_at(off: int) -> str:
        return strings[off : strings.index(b"\0", off)].decode()

    types = [_Type(0, "void", 0)]  # id 0 is void
    pos, end = hdr_len + type_off, hdr_len + type_off + type_len
    while pos < end:
        name_off, info, size_or_type = struct.unpack_from("<III", btf, pos)
        pos += 12
        kind, vlen, kflag = (info >> 24) & 0x1F, info & 0xFFFF, info >> 31
        t = _Type(kind, name_at(name_off), size_or_type)
        if kind == INT:
            t.extra = struct.unpack_from("<I", btf, pos)[0]
            pos += 4
        elif kind == ARRAY:
            elem, _index, n = struct.unpack_from("<III", btf, pos)
            t.extra = (elem, n)
            pos += 12
        elif kind in (STRUCT, UNION):
            members = []
            for _ in range(vlen):
                m_name, m_type, m_off = struct.unpack_from("<III", btf, pos)
                members.append((name_at(m_name), m_type, m_off & 0xFFFFFF if kflag else m_off))
                pos += 12
            t.extra = members
        elif kind in (ENUM, FUNC_PROTO):
            pos += 8 * vlen
        elif kind in (VAR, DECL_TAG):
            pos += 4
        elif kind in (DATASEC, ENUM64):
            pos += 12 * vlen
        types.append(t)
    return types


class BtfStructs:
    """The named structs of one object's BTF."""

    def __init__(self, path: str):
        self.path = path
        self._types = _parse(elf_section(path, ".BTF"))
        self._by_name = {t.name: i for i, t in enumerate(self._types) if t.kind == STRUCT}

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def size(self, name: str) -> int:
        return self._types[self._by_name[name]].size_or_type

    def member_offset(self, name: str, member: str) -> int:
        """Byte offset of a direct member of struct ``name``."""
        for m_name, _t, bitoff in self._types[self._by_name[name]].extra:
            if m_name == member:
                return bitoff // 8
        raise KeyError(f"struct {name} has no member {member}")

    def leaves(self, name: str) -> list[Leaf]:
        """Every scalar of struct ``name`` in offset order."""
        out: list[Leaf] = []
        self._flatten(self._by_name[name], 0, out)
        return out

    def _resolve(self, tid: int) -> int:
        while self._types[tid].kind in (TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG):
            tid = self._types[tid].size_or_type
        return tid

    def _byte_size(self, tid: int) -> int:
        t = self._types[self._resolve(tid)]
        if t.kind == ARRAY:
            elem, n = t.extra
            return n * self._byte_size(elem)
        return 8 if t.kind == PTR else t.size_or_type

    def _flatten(self, tid: int, base: int, out: list[Leaf]) -> None:
        t = self._types[self._resolve(tid)]
        if t.kind == STRUCT:
            for _n, m_type, bitoff in t.extra:
                self._flatten(m_type, base + bitoff // 8, out)
        elif t.kind == ARRAY:
            elem, n = t.extra
            step = self._byte_size(elem)
            for i in range(n):
                self._flatten(elem, base + i * step, out)
        elif t.kind == INT:
            signed = bool((t.extra >> 24) & BTF_INT_SIGNED)
            out.append(Leaf(base, t.size_or_type, None if t.size_or_type == 1 else signed))
        elif t.kind in (ENUM, PTR, FLOAT):
            out.append(Leaf(base, self._byte_size(tid), None))
        else:
            raise ValueError(f"{self.path}: cannot flatten BTF kind {t.kind} ({t.name})")


def format_leaves(parts: tuple[struct.Struct, ...]) -> list[Leaf]:
    """The scalars of little-endian ``struct`` formats laid end to end, as BTF leaves."""
    out: list[Leaf] = []
    base = 0
    for part in parts:
        fmt = part.format
        if fmt[0] not in "<=":
            raise ValueError(f"format {fmt!r}: wire formats are little-endian, unaligned ('<')")
        count = ""
        for ch in fmt[1:]:
            if ch.isdigit():
                count += ch
                continue
            if ch.isspace():
                continue
            n = int(count or "1")
            count = ""
            if ch in "sx":  # bytes (a char array) or padding: byte by byte
                for i in range(n if ch == "s" else 0):
                    out.append(Leaf(base + i, 1, None))
                base += n
                continue
            size = struct.calcsize("<" + ch)
            for _ in range(n):
                signed = None if size == 1 else ch.islower()
                out.append(Leaf(base, size, signed))
                base += size
        if base != sum(p.size for p in parts[: parts.index(part) + 1]):
            raise ValueError(f"format {fmt!r}: cannot read it")
    return out
