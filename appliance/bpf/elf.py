"""ELF symbols: the file offset of a function, as uprobes attach to it."""

from __future__ import annotations


def elf_symbol_offset(path: str, symbol: str) -> int | None:
    """File offset of a function symbol, as uprobes want it."""
    import struct

    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return None
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    secs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    for sec in secs:
        if sec[1] not in (2, 11):  # SYMTAB, DYNSYM
            continue
        strtab = secs[sec[6]]
        for k in range(sec[5] // 24):
            name_off, info, _o, shndx, value, _size = struct.unpack_from(
                "<IBBHQQ", data, sec[4] + k * 24
            )
            if info & 0xF != 2 or value == 0:
                continue
            s = strtab[4] + name_off
            name = data[s : data.index(b"\0", s)].decode(errors="replace")
            if name == symbol or name.split("@")[0] == symbol:
                # virtual address -> file offset through the containing section
                target = secs[shndx]
                return value - target[3] + target[4]
    return None
