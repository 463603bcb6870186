"""InMap / NotInMap on integer arguments: set membership compiled into the program.

A few values become an inline chain of comparisons; a longer list (Tetragon's lists of
syscalls, or thousands of ids) becomes a hash map of the policy's object, filled before
the first hook attaches, so a selector costs one lookup whatever the number of values.
Values are numbers or ``list:NAME`` (a ``spec.lists`` entry); syscall names (``sys_dup``)
are turned into this machine's syscall numbers.
"""

from __future__ import annotations

import struct
from functools import lru_cache

from appliance.bpf.syscalls import syscall_base, syscall_names
from appliance.errors import PolicyError
from appliance.policy.plan import HookPlan

LIST_PREFIX = "list:"
# up to this many values, comparisons inline beat a map lookup
INLINE_MAX = 8
_MASK64 = (1 << 64) - 1
_NATIVE_ABIS = {"", "x64", "x86_64", "arm64", "aarch64"}


@lru_cache(maxsize=1)
def _syscall_numbers() -> dict[str, int]:
    return {name: nr for nr, name in syscall_names().items()}


def _value(text: str, path: str) -> int:
    t = str(text).strip()
    try:
        return int(t, 0)
    except ValueError:
        pass
    abi, _, name = t.rpartition("/")
    if abi not in _NATIVE_ABIS:
        raise PolicyError(
            f"{path}: syscall {t!r} of the {abi} ABI is not supported (only this machine's "
            "native syscall numbers are compared)"
        )
    nr = _syscall_numbers().get(syscall_base(name))
    if nr is None:
        raise PolicyError(f"{path}: {t!r} is neither a number nor a syscall of this machine")
    return nr


def inmap_values(p: HookPlan, values: list[str], path: str) -> list[int]:
    """The numbers a selector's values stand for, lists expanded, in first-seen order."""
    out: dict[int, None] = {}
    for vi, v in enumerate(values):
        vpath = f"{path}.values[{vi}]"
        if str(v).startswith(LIST_PREFIX):
            name = str(v)[len(LIST_PREFIX) :]
            lst = p.lists.get(name)
            if lst is None:
                raise PolicyError(f"{vpath}: list {name!r} is not defined in spec.lists")
            if not lst.values:
                raise PolicyError(f"{vpath}: list {name!r} has no values (patterns need BTF)")
            for item in lst.values:
                out[_value(item, f"{vpath} (list {name!r})") & _MASK64] = None
        else:
            out[_value(v, vpath) & _MASK64] = None
    return list(out)


def inmap_cond(p: HookPlan, expr: str, op: str, values: list[int]) -> str:
    """C condition for ``expr`` in (or not in) ``values``; long lists go to a hash map."""
    key = f"((u64)(s64){expr})"
    if len(values) <= INLINE_MAX:
        hit = "(" + " || ".join(f"{key} == {v}ULL" for v in values) + ")"
    else:
        name = f"inmap_{p.hook_id}_{len(p.value_maps)}"
        p.value_maps[name] = values
        p.helpers.append(
            "\nstruct { __uint(type, BPF_MAP_TYPE_HASH); "
            f"__uint(max_entries, {len(values)}); __type(key, u64); __type(value, u8); }} "
            f'{name} SEC(".maps");\n'
            f"static __always_inline int {name}_has(u64 v)\n"
            f"{{\n\treturn bpf_map_lookup_elem(&{name}, &v) != 0;\n}}\n"
        )
        hit = f"{name}_has({key})"
    return f"(!{hit})" if op == "NotInMap" else hit


def fill_value_maps(obj, plans: list[HookPlan]) -> int:
    """Put every InMap value into its map (after load, before attach); returns the count."""
    n = 0
    for p in plans:
        for name, values in p.value_maps.items():
            m = obj.map(name)
            for v in values:
                m.update(struct.pack("<Q", v), b"\x01")
            n += len(values)
    return n
