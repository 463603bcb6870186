"""`generated_ftrace` lists: the kernel functions whose name matches the list's pattern.

Tetragon expands such a list from the functions ftrace can attach to
(available_filter_functions) with the pattern as a regular expression searched in each
name; the engine does the same, falling back to the functions BTF describes where tracefs
does not list them. Each function is then planned as any other kprobe, so a kernel without
kprobes refuses the hooks for that reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from appliance.bpf import libbpf, tracefs
from appliance.errors import PolicyError

BTF_VMLINUX = "/sys/kernel/btf/vmlinux"


def _kernel_functions() -> tuple[list[str] | None, str]:
    names = tracefs.available_functions()
    if names is not None:
        return names, "available_filter_functions"
    return libbpf.function_names(BTF_VMLINUX), "BTF"


def expand(
    lst,
    ypath: str,
    offline: bool = False,
    functions: Callable[[], tuple[list[str] | None, str]] = _kernel_functions,
) -> list[str]:
    """The calls a generated_ftrace list stands for (``ypath``: the hook's YAML path).

    offline (validation without this machine's kernel): where the kernel lists no
    functions, the pattern stands for them, planned as one hook.
    """
    try:
        rx = re.compile(lst.pattern or "")
    except re.error as exc:  # the schema checks report it first; planning stays safe
        raise PolicyError(f"{ypath}.call: list {lst.name!r}: invalid pattern: {exc}") from exc
    names, source = functions()
    if names is None and offline:
        return [lst.pattern]
    if names is None:
        raise PolicyError(
            f"{ypath}.call: list {lst.name!r}: the kernel lists no functions "
            "(neither tracefs available_filter_functions nor BTF is readable)"
        )
    calls = [n for n in names if rx.search(n)]
    if not calls:
        raise PolicyError(
            f"{ypath}.call: list {lst.name!r}: pattern {lst.pattern!r} matches no kernel "
            f"function ({source})"
        )
    return calls
