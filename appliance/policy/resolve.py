"""``resolve:`` on an argument: follow a path of struct members from the hooked
function's argument (``mm.owner.real_parent.comm`` from a ``struct linux_binprm *``) and
report the member it ends at.

The member offsets come from the kernel's BTF when the policy is planned, so the
generated C is a chain of reads at constant offsets (the policy is compiled for the
kernel it loads on: its cache key is the source). A name the type does not have is
refused with the type that lacks it.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

from appliance.bpf.libbpf import lib

KIND_INT, KIND_PTR, KIND_ARRAY, KIND_STRUCT, KIND_UNION, KIND_ENUM = 1, 2, 3, 4, 5, 6
KIND_TYPEDEF, KIND_FUNC, KIND_FUNC_PROTO, KIND_ENUM64 = 8, 12, 13, 19
QUALIFIERS = {9, 10, 11, 18}  # volatile, const, restrict, type_tag
STRING_TYPES = {"string", "char_buf", "filename"}
INT_SIZES = {"int": 4, "sint32": 4, "int32": 4, "uint32": 4, "sint8": 1, "int8": 1,
             "uint8": 1, "sint16": 2, "int16": 2, "uint16": 2, "long": 8, "sint64": 8,
             "int64": 8, "ulong": 8, "unsigned long": 8, "uint64": 8, "size_t": 8}  # fmt: skip


class ResolveError(Exception):
    """Why a resolve path cannot be followed (the message names the type and member)."""


@dataclass
class Resolved:
    steps: list[tuple[int, bool]]  # (byte offset, read a pointer there) to the leaf's struct
    leaf_offset: int
    leaf: str  # "chars" (array), "char_ptr", "int"
    size: int  # bytes of an integer leaf


class _Btf:
    def __init__(self, path: str) -> None:
        self.lb = lib()
        self.btf = self.lb.btf__parse(path.encode(), None)
        if not self.btf:
            raise ResolveError(f"cannot read the kernel's BTF at {path}")

    def close(self) -> None:
        self.lb.btf__free(self.btf)

    def t(self, tid: int):
        return ctypes.cast(self.lb.btf__type_by_id(self.btf, tid), ctypes.POINTER(ctypes.c_uint32))

    def kind(self, tid: int) -> int:
        return (self.t(tid)[1] >> 24) & 0x1F

    def name(self, tid: int) -> str:
        return (self.lb.btf__name_by_offset(self.btf, self.t(tid)[0]) or b"").decode()

    def strip(self, tid: int) -> int:
        """Past typedefs and qualifiers."""
        for _ in range(16):
            if tid and self.kind(tid) in QUALIFIERS | {KIND_TYPEDEF}:
                tid = self.t(tid)[2]
            else:
                break
        return tid

    def spell(self, tid: int) -> str:
        tid = self.strip(tid)
        if tid == 0:
            return "void"
        k = self.kind(tid)
        if k == KIND_PTR:
            return self.spell(self.t(tid)[2]) + " *"
        prefix = {KIND_STRUCT: "struct ", KIND_UNION: "union ", KIND_ENUM: "enum "}.get(k, "")
        return prefix + (self.name(tid) or "(anonymous)")

    def member(self, tid: int, name: str) -> tuple[int, int] | None:
        """(byte offset, type) of member ``name``, looking into anonymous members."""
        t = self.t(tid)
        kflag, vlen = t[1] >> 31, t[1] & 0xFFFF
        for i in range(vlen):
            name_off, mtype, off = t[3 + 3 * i], t[4 + 3 * i], t[5 + 3 * i]
            bits = off & 0xFFFFFF if kflag else off
            mname = (self.lb.btf__name_by_offset(self.btf, name_off) or b"").decode()
            if mname == name:
                return bits // 8, mtype
            inner = self.strip(mtype)
            if not mname and self.kind(inner) in (KIND_STRUCT, KIND_UNION):
                found = self.member(inner, name)
                if found is not None:
                    return bits // 8 + found[0], found[1]
        return None

    def func_param(self, func: str, index: int) -> int | None:
        """Type of parameter ``index`` of a function, or of a raw tracepoint's TP_PROTO
        (``btf_trace_<event>``: its first parameter is the tracepoint's data pointer)."""
        if func.startswith("struct "):  # a data source: a pointer to this struct
            sid = self.lb.btf__find_by_name_kind(self.btf, func[7:].encode(), KIND_STRUCT)
            return -sid if sid > 0 else None  # negative: "a pointer to struct -id"
        if func.startswith("btf_trace_"):
            tid = self.lb.btf__find_by_name_kind(self.btf, func.encode(), KIND_TYPEDEF)
            if tid < 0:
                return None
            ptr = self.strip(self.t(tid)[2])
            proto, index = self.t(self.t(ptr)[2]), index + 1
        else:
            fid = self.lb.btf__find_by_name_kind(self.btf, func.encode(), KIND_FUNC)
            if fid < 0:
                return None
            proto = self.t(self.t(fid)[2])
        if index >= proto[1] & 0xFFFF:
            return None
        return proto[3 + 2 * index + 1]


def resolve_path(btf_path: str, funcs: list[str], index: int, path: str, arg_type: str) -> Resolved:
    """Follow ``path`` from argument ``index`` of the first of ``funcs`` in BTF."""
    b = _Btf(btf_path)
    try:
        tid = next((t for f in funcs if (t := b.func_param(f, index)) is not None), None)
        if tid is None:
            raise ResolveError(f"{funcs[0]} has no argument {index} in the kernel's BTF")
        if tid < 0:  # a data source: a pointer to struct -tid
            cur = -tid
        else:
            cur = b.strip(tid)
            if b.kind(cur) != KIND_PTR:
                raise ResolveError(
                    f"argument {index} of {funcs[0]} is {b.spell(tid)}, not a pointer"
                )
            cur = b.strip(b.t(cur)[2])
        steps: list[tuple[int, bool]] = []
        names = path.split(".")
        for i, name in enumerate(names):
            if b.kind(cur) not in (KIND_STRUCT, KIND_UNION):
                raise ResolveError(f"{'.'.join(names[:i])} is {b.spell(cur)}, not a struct")
            found = b.member(cur, name)
            if found is None:
                raise ResolveError(f"{b.spell(cur)} has no member {name!r}")
            off, mtype = found
            mt = b.strip(mtype)
            if i == len(names) - 1:
                return _leaf(b, off, mt, steps, path, arg_type)
            if b.kind(mt) == KIND_PTR:
                steps.append((off, True))
                cur = b.strip(b.t(mt)[2])
            else:
                steps.append((off, False))
                cur = mt
        raise ResolveError("an empty path")
    finally:
        b.close()


def _leaf(b: _Btf, off: int, mt: int, steps, path: str, arg_type: str) -> Resolved:
    k = b.kind(mt)
    if arg_type in STRING_TYPES:
        if k == KIND_ARRAY:
            return Resolved(steps, off, "chars", 0)
        if k == KIND_PTR and b.kind(b.strip(b.t(mt)[2])) == KIND_INT:
            return Resolved(steps, off, "char_ptr", 0)
        raise ResolveError(f"{path} is {b.spell(mt)}: a {arg_type!r} needs a char array or pointer")
    if arg_type in INT_SIZES:
        if k in (KIND_INT, KIND_ENUM, KIND_ENUM64, KIND_PTR):
            size = 8 if k == KIND_PTR else b.t(mt)[2]
            return Resolved(steps, off, "int", min(size, INT_SIZES[arg_type]))
        raise ResolveError(f"{path} is {b.spell(mt)}, not an integer")
    raise ResolveError(f"resolve to a {arg_type!r} argument is not supported (strings, integers)")


def c_expression(res: Resolved, raw: str) -> str:
    """C (a statement expression) giving the leaf: its address for strings, else its value."""
    parts = [f"u64 r = (u64)({raw});"]
    for off, deref in res.steps:
        parts.append(f"r = rd_kernel(r + {off}, 8);" if deref else f"r += {off};")
    if res.leaf == "chars":
        parts.append(f"r += {res.leaf_offset};")
    elif res.leaf == "char_ptr":
        parts.append(f"r = rd_kernel(r + {res.leaf_offset}, 8);")
    else:
        parts.append(f"r = rd_kernel(r + {res.leaf_offset}, {res.size});")
    return "({ " + " ".join(parts) + " r; })"
