"""Stack traces of the Post action (``kernelStackTrace`` / ``userStackTrace``).

The hook stores the stack ids bpf_get_stackid returned in its stack slot; here each id is
read from the policy's stack map (and deleted, so the map does not fill), and every
address is named: kernel ones from /proc/kallsyms, user ones through the process's
mappings and the ELF symbols of the mapped file. The entries are Tetragon's
StackTraceEntry (``address``, ``offset``, ``symbol``, ``module``); real addresses only
with --expose-stack-addresses (or its older name --expose-kernel-addresses).
"""

from __future__ import annotations

import bisect
import struct
from functools import lru_cache

MAX_DEPTH = 127  # PERF_MAX_STACK_DEPTH: the stack map's value is this many u64
STACK_IDS = struct.Struct("<ii")  # kernel id, user id (negative: none)

_KSYMS: tuple[list[int], list[str]] | None = None


def _kallsyms() -> tuple[list[int], list[str]]:
    global _KSYMS
    if _KSYMS is None:
        addrs, names = [], []
        try:
            with open("/proc/kallsyms") as f:
                rows = []
                for line in f:
                    parts = line.split()
                    if len(parts) >= 3 and parts[1] in "tTwW":
                        rows.append((int(parts[0], 16), parts[2]))
            rows.sort()
            addrs = [a for a, _ in rows]
            names = [n for _, n in rows]
        except OSError:
            pass
        _KSYMS = (addrs, names)
    return _KSYMS


def kernel_frame(addr: int, expose: bool) -> dict:
    addrs, names = _kallsyms()
    out: dict = {}
    if expose:
        out["address"] = str(addr)
    i = bisect.bisect_right(addrs, addr) - 1
    if i >= 0 and addrs[i]:
        out["offset"] = str(addr - addrs[i])
        out["symbol"] = names[i]
    else:
        out["symbol"] = "[unknown]"
    return out


@lru_cache(maxsize=64)
def _elf_functions(path: str) -> tuple[list[int], list[int], list[str]]:
    """(start addresses, sizes, names) of the function symbols of an ELF file."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return [], [], []
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return [], [], []
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    secs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    rows = {}
    for sec in secs:
        if sec[1] not in (2, 11):  # SYMTAB, DYNSYM
            continue
        strtab = secs[sec[6]]
        for k in range(sec[5] // 24):
            name_off, info, _o, _shndx, value, size = struct.unpack_from(
                "<IBBHQQ", data, sec[4] + k * 24
            )
            if info & 0xF != 2 or value == 0:
                continue
            s = strtab[4] + name_off
            rows[value] = (size, data[s : data.index(b"\0", s)].decode(errors="replace"))
    starts = sorted(rows)
    return starts, [rows[a][0] for a in starts], [rows[a][1] for a in starts]


def _load_bias(path: str, map_start: int, map_off: int) -> int:
    """Address of the file's first byte in the process: symbols are file virtual
    addresses, which for PIE objects and libraries start at 0."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
        if head[:4] == b"\x7fELF" and struct.unpack_from("<H", head, 16)[0] == 2:  # ET_EXEC
            return 0
    except OSError:
        pass
    return map_start - map_off


def _maps(pid: int) -> list[tuple[int, int, int, str]]:
    out = []
    try:
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                parts = line.split(maxsplit=5)
                if len(parts) < 6 or not parts[5].startswith("/"):
                    continue
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                out.append((lo, hi, int(parts[2], 16), parts[5].strip()))
    except OSError:
        pass
    return out


def user_frames(pid: int, addrs: list[int], expose: bool) -> list[dict]:
    maps = _maps(pid)
    frames = []
    for addr in addrs:
        out: dict = {}
        if expose:
            out["address"] = str(addr)
        m = next((m for m in maps if m[0] <= addr < m[1]), None)
        if m is None:
            out["symbol"] = "[unknown]"
            frames.append(out)
            continue
        lo, _hi, off, path = m
        out["module"] = path
        vaddr = addr - _load_bias(path, lo, off)
        starts, sizes, names = _elf_functions(path)
        i = bisect.bisect_right(starts, vaddr) - 1
        if i >= 0 and (vaddr < starts[i] + sizes[i] or not sizes[i]):
            out["symbol"] = names[i]
            out["offset"] = str(vaddr - starts[i])
        else:
            out["offset"] = str(addr - lo + off)
        frames.append(out)
    return frames


def read_stack(stack_map, stack_id: int) -> list[int]:
    """The addresses of one stack id (deleted from the map once read)."""
    key = struct.pack("<I", stack_id)
    raw = stack_map.lookup(key, MAX_DEPTH * 8)
    if raw is None:
        return []
    try:
        stack_map.delete(key)
    except Exception:
        pass
    addrs = struct.unpack(f"<{MAX_DEPTH}Q", raw)
    return [a for a in addrs if a]


def stack_fields(obj, slot: bytes, pid: int, expose: bool) -> dict:
    """``kernel_stack_trace`` / ``user_stack_trace`` of an event from its stack slot."""
    if obj is None:
        return {}
    kid, uid = STACK_IDS.unpack_from(slot)
    out: dict = {}
    smap = obj.map("stack_traces")
    if kid >= 0:
        out["kernel_stack_trace"] = [kernel_frame(a, expose) for a in read_stack(smap, kid)]
    if uid >= 0:
        out["user_stack_trace"] = user_frames(pid, read_stack(smap, uid), expose)
    return out
