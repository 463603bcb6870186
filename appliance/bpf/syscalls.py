"""Syscall names of this machine: the architecture's wrapper prefix, the base name of a
syscall function and the number -> name table of the UAPI headers.
"""

from __future__ import annotations

import platform
import re


def arch_prefix() -> str:
    m = platform.machine()
    return {"x86_64": "__x64_", "aarch64": "__arm64_", "arm64": "__arm64_"}.get(m, "")


def syscall_base(call: str) -> str:
    """sys_lseek, __x64_sys_lseek, lseek -> lseek."""
    c = call
    for p in ("__x64_", "__arm64_", "__ia32_", "__se_", "__do_"):
        if c.startswith(p):
            c = c[len(p) :]
    if c.startswith("sys_"):
        c = c[4:]
    return c


def syscall_names() -> dict[int, str]:
    """Syscall numbers of this architecture, from the kernel UAPI headers."""
    import glob

    names: dict[int, str] = {}
    arch = {"x86_64": "unistd_64.h", "aarch64": "unistd.h"}.get(platform.machine(), "unistd.h")
    candidates = glob.glob(f"/usr/include/*/asm/{arch}")
    candidates += [f"/usr/include/asm/{arch}", "/usr/include/asm-generic/unistd.h"]
    for path in candidates:
        try:
            text = open(path).read()
        except OSError:
            continue
        for m in re.finditer(r"#define\s+__NR(?:3264)?_(\w+)\s+(\d+)", text):
            names.setdefault(int(m.group(2)), m.group(1))
        if names:
            break
    return names
