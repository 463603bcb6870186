"""Handing freed heap memory back to the kernel.

Loading BPF objects parses the kernel's BTF (megabytes) in libbpf, and glibc keeps what
it frees for later allocations: without a trim the idle agent holds about 8 MB it no
longer uses. ``malloc_trim`` returns the free pages at the top and inside the heap.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_trim = None


def release_free_heap() -> bool:
    """Return glibc's free heap pages to the kernel; False where there is no glibc."""
    global _trim
    if _trim is None:
        try:
            _trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):  # musl or another libc: nothing to trim
            _trim = False
    if not _trim:
        return False
    _trim(0)
    return True
