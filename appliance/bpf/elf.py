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


def elf_vaddr_offset(path: str, vaddr: int) -> int | None:
    """File offset of a virtual address (as `nm` and `objdump` print them), through the
    PT_LOAD segment that maps it; None where no loadable segment holds it."""
    import struct

    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
                return None
            phoff = struct.unpack_from("<Q", head, 0x20)[0]
            phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
            f.seek(phoff)
            phdrs = f.read(phentsize * phnum)
    except (OSError, struct.error):
        return None
    for i in range(phnum):
        ptype, _flags, off, va, _pa, filesz = struct.unpack_from("<IIQQQQ", phdrs, i * phentsize)
        if ptype == 1 and va <= vaddr < va + filesz:  # PT_LOAD
            return vaddr - va + off
    return None


def elf_build_id(path: str) -> bytes | None:
    """The GNU build id of an ELF file (its NT_GNU_BUILD_ID note), None without one.

    Reads the program headers' PT_NOTE segments, as the loader maps them, so stripped
    files whose section headers are gone still have theirs."""
    import struct

    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
                return None  # 64-bit little-endian only (the architectures built for)
            phoff = struct.unpack_from("<Q", head, 0x20)[0]
            phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
            f.seek(phoff)
            phdrs = f.read(phentsize * phnum)
            for i in range(phnum):
                ptype, _flags, off, _va, _pa, filesz = struct.unpack_from(
                    "<IIQQQQ", phdrs, i * phentsize
                )
                if ptype != 4 or filesz > 1 << 16:  # PT_NOTE, of a sane size
                    continue
                f.seek(off)
                notes = f.read(filesz)
                pos = 0
                while pos + 12 <= len(notes):
                    namesz, descsz, ntype = struct.unpack_from("<III", notes, pos)
                    name_at = pos + 12
                    desc_at = name_at + ((namesz + 3) & ~3)
                    if ntype == 3 and notes[name_at : name_at + namesz] == b"GNU\0":
                        return notes[desc_at : desc_at + descsz]
                    pos = desc_at + ((descsz + 3) & ~3)
    except (OSError, struct.error):
        return None
    return None
