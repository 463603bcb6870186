"""Parsers for selector values.

Each parser turns the text of one ``values`` entry into what the kernel side
compares against and raises ValueError with a precise reason otherwise. The
validator calls them to report bad values; the compiler calls them to get the
numbers.
"""

from __future__ import annotations

import ipaddress
import re

from appliance.policy.constants import (
    ADDRESS_FAMILIES,
    BOOLEAN_SPELLINGS,
    CAPABILITIES,
    FILE_TYPES,
    HOST_NS,
    IP_PROTOCOLS,
    TCP_STATES,
)

# Argument types grouped by what can be compared on them.
# (bits, signed) of the integer types.
INT_TYPE_RANGES: dict[str, tuple[int, bool]] = {
    "sint8": (8, True),
    "int8": (8, True),
    "uint8": (8, False),
    "sint16": (16, True),
    "int16": (16, True),
    "uint16": (16, False),
    "int": (32, True),
    "sint32": (32, True),
    "int32": (32, True),
    "uint32": (32, False),
    "long": (64, True),
    "sint64": (64, True),
    "int64": (64, True),
    "ulong": (64, False),
    "unsigned long": (64, False),
    "uint64": (64, False),
    "size_t": (64, False),
    "bpf_cmd": (32, False),
}
INT_TYPES: frozenset[str] = frozenset(INT_TYPE_RANGES)
# Buffers and strings compared as bytes.
STRING_TYPES: frozenset[str] = frozenset(
    {"string", "char_buf", "char_iovec", "const_buf", "data_loc", "filename"}
)
# Kernel objects reported (and compared) as a path.
PATH_TYPES: frozenset[str] = frozenset({"file", "path", "fd", "dentry", "linux_binprm"})
# Network devices, compared by name with the string operators (as Tetragon does).
NETDEV_TYPES: frozenset[str] = frozenset({"net_device"})
# DNS queries, compared by their query name with the string operators.
DNS_TYPES: frozenset[str] = frozenset({"dns"})
# Kernel objects compared with the network operators.
NET_TYPES: frozenset[str] = frozenset({"sock", "skb", "sockaddr", "socket"})
# Capability numbers or sets.
CAP_TYPES: frozenset[str] = frozenset(
    {"capability", "kernel_cap_t", "cap_inheritable", "cap_permitted", "cap_effective"}
)
# Syscall ids (with the ABI in the upper bits).
SYSCALL_TYPES: frozenset[str] = frozenset({"syscall64"})
# Types that are printed but cannot be filtered on.
OPAQUE_TYPES: frozenset[str] = frozenset(
    {
        "nop",
        "cred",
        "user_namespace",
        "bpf_attr",
        "perf_event",
        "bpf_map",
        "bpf_prog",
        "load_info",
        "module",
        "kiocb",
        "iov_iter",
    }
)

_HEX = re.compile(r"0[xX][0-9a-fA-F]+")
_OCTAL = re.compile(r"0[0-7]+")
_DECIMAL = re.compile(r"\d+")
_SYSCALL_NAME = re.compile(r"^(?:[a-z0-9_]+/)?[A-Za-z_][A-Za-z0-9_]*$")


def parse_int(text: str) -> int:
    """Parse a decimal, 0x-hexadecimal or 0-octal integer, optionally signed."""
    body = text.strip()
    sign = 1
    if body[:1] in ("+", "-"):
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if _HEX.fullmatch(body):
        return sign * int(body, 16)
    if _OCTAL.fullmatch(body):
        return sign * int(body[1:], 8)
    if _DECIMAL.fullmatch(body):
        return sign * int(body, 10)
    raise ValueError(f"'{text}' is not an integer (decimal, 0x hexadecimal or 0 octal)")


def int_range(arg_type: str) -> tuple[int, int]:
    bits, signed = INT_TYPE_RANGES.get(arg_type, (64, True))
    if signed:
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def parse_int_for_type(text: str, arg_type: str) -> int:
    """Parse an integer and check it fits the argument type."""
    value = parse_int(text)
    if arg_type in INT_TYPE_RANGES:
        lo, hi = int_range(arg_type)
        if not lo <= value <= hi:
            raise ValueError(f"{value} does not fit type {arg_type} ({lo}..{hi})")
    return value


def parse_int_range(text: str, arg_type: str) -> tuple[int, int]:
    """Parse ``min:max`` (inclusive) for InRange / NotInRange."""
    parts = text.split(":")
    if len(parts) != 2:
        raise ValueError(f"'{text}' is not a range: expected min:max, e.g. 1:5")
    lo = parse_int_for_type(parts[0], arg_type)
    hi = parse_int_for_type(parts[1], arg_type)
    if lo > hi:
        raise ValueError(f"range '{text}' is empty: {lo} is greater than {hi}")
    return lo, hi


def parse_port(text: str) -> tuple[int, int]:
    """Parse a port or an inclusive ``min:max`` port range."""
    parts = text.split(":")
    if len(parts) > 2:
        raise ValueError(f"'{text}' is not a port or a min:max port range")
    ports = []
    for part in parts:
        try:
            port = parse_int(part)
        except ValueError:
            raise ValueError(f"'{text}' is not a port or a min:max port range") from None
        if not 0 <= port <= 65535:
            raise ValueError(f"port {port} is out of range (0..65535)")
        ports.append(port)
    lo, hi = ports[0], ports[-1]
    if lo > hi:
        raise ValueError(f"port range '{text}' is empty: {lo} is greater than {hi}")
    return lo, hi


def parse_address(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """Parse an IPv4/IPv6 address or CIDR. Host bits are allowed (127.0.0.1/8)."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(f"'{text}' is not an IPv4/IPv6 address or CIDR") from None


def _named_or_number(text: str, table: dict[str, int], what: str, hi: int) -> int:
    t = text.strip()
    upper = t.upper()
    if upper in table:
        return table[upper]
    try:
        value = parse_int(t)
    except ValueError:
        examples = ", ".join(list(table)[:4])
        raise ValueError(
            f"unknown {what} '{text}' (expected a number or a name such as {examples})"
        ) from None
    if not 0 <= value <= hi:
        raise ValueError(f"{what} {value} is out of range (0..{hi})")
    return value


def parse_protocol(text: str) -> int:
    return _named_or_number(text, IP_PROTOCOLS, "protocol", 255)


def parse_family(text: str) -> int:
    return _named_or_number(text, ADDRESS_FAMILIES, "address family", 65535)


def parse_tcp_state(text: str) -> int:
    return _named_or_number(text, TCP_STATES, "TCP state", 255)


def parse_capability(text: str) -> int:
    """A capability name (CAP_SYS_ADMIN) or number."""
    t = text.strip()
    if t.upper() in CAPABILITIES:
        return CAPABILITIES[t.upper()]
    try:
        value = parse_int(t)
    except ValueError:
        raise ValueError(f"unknown capability '{text}' (expected CAP_* name or number)") from None
    if not 0 <= value <= max(CAPABILITIES.values()):
        raise ValueError(f"capability {value} is out of range (0..{max(CAPABILITIES.values())})")
    return value


def parse_file_type(text: str) -> int:
    t = text.strip().lower()
    if t in FILE_TYPES:
        return FILE_TYPES[t]
    raise ValueError(f"unknown file type '{text}' (expected one of: {', '.join(FILE_TYPES)})")


def parse_namespace_value(text: str) -> int | str:
    """A namespace inode number, or ``host_ns``."""
    t = text.strip()
    if t == HOST_NS:
        return HOST_NS
    try:
        value = parse_int(t)
    except ValueError:
        raise ValueError(f"'{text}' is not a namespace inode number or '{HOST_NS}'") from None
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"namespace inode {value} is out of range (0..4294967295)")
    return value


def parse_syscall(text: str) -> int | str:
    """A syscall number, or a name optionally prefixed by its ABI (``i386/sys_dup``)."""
    t = text.strip()
    try:
        return parse_int(t)
    except ValueError:
        pass
    if _SYSCALL_NAME.match(t):
        return t
    raise ValueError(f"'{text}' is not a syscall number or name")


def parse_bool_option(text: str) -> bool:
    t = text.strip().lower()
    if t in BOOLEAN_SPELLINGS:
        return BOOLEAN_SPELLINGS[t]
    raise ValueError(f"'{text}' is not a boolean (expected true/false, 1/0, yes/no)")
