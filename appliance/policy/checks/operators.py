"""Filter operators: the argument types each applies to, and the values it parses."""

from __future__ import annotations

from appliance.policy import values as V
from appliance.policy.checks.context import Context
from appliance.policy.model import LIST_PREFIX, Arg, ArgSelector
from appliance.policy.problems import PathT

_ANY_VALUE_TYPES = V.INT_TYPES | V.STRING_TYPES | V.PATH_TYPES | V.CAP_TYPES | V.SYSCALL_TYPES
# what a name is compared with: Tetragon takes no maps on a net_device
_NAME_TYPES = V.STRING_TYPES | V.PATH_TYPES | V.NETDEV_TYPES | V.DNS_TYPES

# Argument types each operator applies to.
OPERATOR_ARG_TYPES: dict[str, frozenset[str]] = {
    "Equal": _ANY_VALUE_TYPES | V.NETDEV_TYPES | V.DNS_TYPES,
    "NotEqual": _ANY_VALUE_TYPES | V.NETDEV_TYPES | V.DNS_TYPES,
    "InMap": _ANY_VALUE_TYPES,
    "NotInMap": _ANY_VALUE_TYPES,
    "Prefix": _NAME_TYPES,
    "NotPrefix": _NAME_TYPES,
    "Postfix": _NAME_TYPES,
    "NotPostfix": _NAME_TYPES,
    "SubString": V.STRING_TYPES | V.PATH_TYPES,
    "SubStringIgnCase": V.STRING_TYPES | V.PATH_TYPES,
    "GT": V.INT_TYPES,
    "LT": V.INT_TYPES,
    "InRange": V.INT_TYPES,
    "NotInRange": V.INT_TYPES,
    "Mask": V.INT_TYPES | V.CAP_TYPES,
    "CapabilityMask": V.CAP_TYPES,
    "SPort": V.NET_TYPES,
    "NotSPort": V.NET_TYPES,
    "SPortPriv": V.NET_TYPES,
    "NotSPortPriv": V.NET_TYPES,
    "DPort": V.NET_TYPES,
    "NotDPort": V.NET_TYPES,
    "DPortPriv": V.NET_TYPES,
    "NotDPortPriv": V.NET_TYPES,
    "SAddr": V.NET_TYPES,
    "NotSAddr": V.NET_TYPES,
    "DAddr": V.NET_TYPES,
    "NotDAddr": V.NET_TYPES,
    "Protocol": V.NET_TYPES,
    "Family": V.NET_TYPES,
    "State": frozenset({"sock", "socket"}),
    "CapabilitiesGained": V.CAP_TYPES | {"cred"},
    "FileType": frozenset({"file", "path"}),
    "NotFileType": frozenset({"file", "path"}),
}

_TYPE_GROUPS: list[tuple[str, frozenset[str]]] = [
    ("integer types", V.INT_TYPES),
    ("string types", V.STRING_TYPES),
    ("path types", V.PATH_TYPES),
    ("socket types", V.NET_TYPES),
    ("capability types", V.CAP_TYPES),
    ("syscall64", V.SYSCALL_TYPES),
]

# Operators that take no values.
VALUELESS_OPERATORS = frozenset(
    {"SPortPriv", "NotSPortPriv", "DPortPriv", "NotDPortPriv", "CapabilitiesGained"}
)

PORT_OPERATORS = frozenset({"SPort", "NotSPort", "DPort", "NotDPort"})

ADDR_OPERATORS = frozenset({"SAddr", "NotSAddr", "DAddr", "NotDAddr"})

STRING_OPERATORS = frozenset(
    {"Prefix", "NotPrefix", "Postfix", "NotPostfix", "SubString", "SubStringIgnCase"}
)


def _type_groups(types_: frozenset[str]) -> str:
    parts = []
    rest = set(types_)
    for label, group in _TYPE_GROUPS:
        if group and group <= types_:
            parts.append(label)
            rest -= group
    parts.extend(sorted(rest))
    return ", ".join(parts)


def check_operator_values(ctx: Context, p: PathT, flt: ArgSelector, arg: Arg) -> None:
    op = flt.operator
    t = arg.type
    if t != "auto":
        if t in V.OPAQUE_TYPES:
            ctx.error(
                p + ("operator",),
                f"arguments of type {t} cannot be filtered (they are only reported)",
            )
            return
        allowed = OPERATOR_ARG_TYPES[op]
        if t not in allowed:
            ctx.error(
                p + ("operator",),
                f"operator {op} does not apply to an argument of type {t} "
                f"(it applies to {_type_groups(allowed)})",
            )
            return
    if op in VALUELESS_OPERATORS:
        if flt.values and op != "CapabilitiesGained":
            ctx.warn(p + ("values",), f"values are ignored by {op}")
    elif not flt.values:
        ctx.error(p + ("values",), f"operator {op} needs at least one value")
    for n, value in enumerate(flt.values):
        try:
            check_value(ctx, p + ("values", n), op, t, value)
        except ValueError as exc:
            ctx.error(p + ("values", n), str(exc))


def check_value(ctx: Context, q: PathT, op: str, t: str, value: str) -> None:
    if op in ("InMap", "NotInMap") and value.startswith(LIST_PREFIX):
        name = value[len(LIST_PREFIX) :]
        if ctx.list_exists(q, name, "the value"):
            lst = ctx.spec.list_named(name)
            if (
                lst is not None
                and lst.type in ("syscalls", "generated_syscalls")
                and t != "syscall64"
            ):
                ctx.warn(
                    q,
                    f"list '{name}' holds syscalls: the argument should be of type syscall64 "
                    f"(got {t}) so ids of every ABI compare correctly",
                )
        return
    if op in ("Equal", "NotEqual", "InMap", "NotInMap", "Mask", "CapabilityMask", "GT", "LT"):
        if t in V.INT_TYPES:
            V.parse_int_for_type(value, t)
        elif t in V.CAP_TYPES:
            V.parse_capability(value)
        elif t in V.SYSCALL_TYPES:
            V.parse_syscall(value)
        elif t == "auto" and op in ("Mask", "GT", "LT"):
            V.parse_int(value)
        elif t in V.PATH_TYPES and op in ("Equal", "NotEqual") and not value.startswith("/"):
            ctx.warn(q, f"'{value}' is not an absolute path: {op} compares the full path")
    elif op in ("InRange", "NotInRange"):
        V.parse_int_range(value, t)
    elif op in PORT_OPERATORS:
        V.parse_port(value)
    elif op in ADDR_OPERATORS:
        V.parse_address(value)
    elif op == "Protocol":
        V.parse_protocol(value)
    elif op == "Family":
        V.parse_family(value)
    elif op == "State":
        V.parse_tcp_state(value)
    elif op in ("FileType", "NotFileType"):
        V.parse_file_type(value)
    elif op == "CapabilitiesGained":
        V.parse_capability(value)
    elif op in STRING_OPERATORS:
        if value == "":
            ctx.warn(q, f"an empty value makes {op} match every argument")
        elif op == "Prefix" and t in V.PATH_TYPES and not value.startswith("/"):
            ctx.warn(
                q,
                f"'{value}' is not an absolute path: Prefix compares from the start "
                "of the full path",
            )
