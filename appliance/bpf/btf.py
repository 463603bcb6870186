"""Finds the kernel's BTF the way Tetragon documents it."""

from __future__ import annotations

import os

from appliance.errors import BtfNotFound

BTF_MAGIC = b"\x9f\xeb"


def _is_btf(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(2) == BTF_MAGIC
    except OSError:
        return False


def candidates(release: str | None = None) -> list[str]:
    release = release or os.uname().release
    return [
        "/sys/kernel/btf/vmlinux",
        f"/var/lib/tetragon/metadata/vmlinux-{release}",
        "/var/lib/tetragon/btf",
    ]


def discover(explicit: str = "", release: str | None = None) -> str:
    """--btf first, then the standard locations. Raises BtfNotFound with what to do."""
    release = release or os.uname().release
    if explicit:
        if os.path.isdir(explicit):
            inner = os.path.join(explicit, f"vmlinux-{release}")
            if _is_btf(inner):
                return inner
            raise BtfNotFound(
                f"--btf {explicit}: directory has no BTF file vmlinux-{release}; "
                "pass the BTF file itself (for example /sys/kernel/btf/vmlinux)"
            )
        if not os.path.exists(explicit):
            raise BtfNotFound(
                f"--btf {explicit}: no such file; pass the kernel's BTF file "
                "(for example /sys/kernel/btf/vmlinux) or leave --btf unset"
            )
        if not _is_btf(explicit):
            raise BtfNotFound(
                f"--btf {explicit}: not a BTF file (bad magic); generate one with "
                "`bpftool btf dump file /sys/kernel/btf/vmlinux format raw` or use a BTFHub file"
            )
        return explicit
    tried = candidates(release)
    for c in tried:
        if _is_btf(c):
            return c
    raise BtfNotFound(
        f"kernel {release}: no BTF found (tried {', '.join(tried)}). "
        "Use a kernel built with CONFIG_DEBUG_INFO_BTF=y, or download the BTF file for "
        "this kernel (for example from BTFHub) and pass it with --btf"
    )
