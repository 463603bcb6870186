"""Decodes policy messages (struct pmsg in bpf/include/policy.h) into Tetragon events."""

from __future__ import annotations

import base64
import errno
import socket
import struct
import threading

from appliance.bpf.layout import Layout
from appliance.policy.constants import TAINT_BITS, TCP_STATES
from appliance.policy.plan import HookPlan
from appliance.policy.vocabulary import ACTION_ENUM, INT_ARG_ENCODING

PMSG = struct.Struct("<BBHIIIQ IHBB q 6Q 6I 6I")
SLOTS_AT = PMSG.size
SLOT = 1024
ARG_TRUNCATED, ARG_ERROR = 1, 2
SOCK = struct.Struct("<IIHHHHHBB4I4I")
LOAD_INFO = struct.Struct("<IIQ56s")  # struct load_info_msg (module and load_info)
# struct dns_info (bpf/include/dns.h) at the end of the slot; the query name starts it
DNS_INFO = struct.Struct("<HHHHB7x")
DNS_INFO_AT, DNS_PARSED = SLOT - 16, 1
FAMILIES = {1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6"}
SOCK_TYPES = {1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 5: "SOCK_SEQPACKET"}
PROTOS = {0: "IPPROTO_IP", 1: "IPPROTO_ICMP", 6: "IPPROTO_TCP", 17: "IPPROTO_UDP",
          58: "IPPROTO_ICMPV6", 132: "IPPROTO_SCTP"}  # fmt: skip
STATES = {v: k for k, v in TCP_STATES.items()}
CAPS = None


def _mode_str(mode: int) -> str:
    if not mode:
        return ""
    kinds = {0o140000: "s", 0o120000: "l", 0o100000: "-", 0o060000: "b", 0o040000: "d",
             0o020000: "c", 0o010000: "p"}  # fmt: skip
    out = kinds.get(mode & 0o170000, "?")
    for shift in (6, 3, 0):
        bits = (mode >> shift) & 7
        out += ("r" if bits & 4 else "-") + ("w" if bits & 2 else "-") + ("x" if bits & 1 else "-")
    return out


def _cap_name(n: int) -> str:
    global CAPS
    if CAPS is None:
        from appliance.policy.constants import CAPABILITIES

        CAPS = {v: k for k, v in CAPABILITIES.items()}
    return CAPS.get(n, str(n))


def _array_values(arr: tuple[int, int, bool], raw: bytes) -> list[dict]:
    """A tracepoint's array field, as Tetragon reports it: each element an argument
    (unsigned 64-bit ones as size_arg), a char array one string."""
    count, size, signed = arr
    if size == 1 and not signed and count:
        return [{"string_arg": raw.split(b"\0", 1)[0].decode(errors="replace")}]
    fmt = {1: "b", 2: "h", 4: "i", 8: "q"}[size]
    fmt = fmt if signed else fmt.upper()
    n = min(count, len(raw) // size)
    vals = struct.unpack_from(f"<{n}{fmt}", raw)
    if size == 8:
        key = "long_arg" if signed else "size_arg"
        return [{key: str(v)} for v in vals]
    return [{"int_arg" if signed else "uint_arg": v} for v in vals]


def decode_args(
    plan: HookPlan, data: bytes, ints, lens, aflags, of_data: bool = False
) -> list[dict]:
    """The event's `args` (or, ``of_data``, its `data` entries)."""
    out = []
    for a in plan.args:
        if a.is_data != of_data:
            continue
        v = ints[a.pos]
        arg: dict
        if a.type in INT_ARG_ENCODING:
            if INT_ARG_ENCODING[a.type][1] is None:
                continue
            arg = int_value(a.type, v)
        else:
            base = SLOTS_AT + a.slot * SLOT
            n = min(lens[a.pos], SLOT)
            raw = data[base : base + n]
            if a.tp_array[0]:  # a tracepoint's array field: one value per element
                out.extend(_array_values(a.tp_array, raw))
                continue
            if a.type in ("string", "filename"):
                arg = {"string_arg": raw.split(b"\0", 1)[0].decode(errors="replace")}
            elif a.type in ("char_buf", "iov_iter"):
                if aflags[a.pos] & ARG_TRUNCATED:
                    arg = {
                        "truncated_bytes_arg": {
                            "bytes_arg": base64.b64encode(raw).decode(),
                            "orig_size": str(n),
                        }
                    }
                else:
                    arg = {"bytes_arg": base64.b64encode(raw).decode()}
            elif a.type in ("file", "fd"):
                path = raw.split(b"\0", 1)[0].decode(errors="replace")
                f = {"path": path}
                perm = _mode_str(v) if a.type == "file" else ""
                if perm:
                    f["permission"] = perm
                arg = {"file_arg": f}
            elif a.type in ("path", "dentry"):
                arg = {"path_arg": {"path": raw.split(b"\0", 1)[0].decode(errors="replace")}}
            elif a.type in ("sock", "socket"):
                arg = {"sock_arg": _sock(raw)}
            elif a.type == "linux_binprm":
                arg = {"linux_binprm_arg": {"path": _cstr(raw)}}
            elif a.type == "kiocb":
                arg = {"file_arg": {"path": _cstr(raw)}}
            elif a.type == "cred":
                arg = {"process_credentials_arg": _cred(raw)}
            elif a.type == "user_namespace":
                arg = {"user_ns_arg": _cred(raw)["user_ns"]} if len(raw) >= CRED.size else {}
            elif a.type in ("module", "load_info"):
                arg = {"module_arg": _kernel_module(raw, a.type == "load_info")}
            elif a.type == "net_device":  # Tetragon reports the device's name as a string
                arg = {"string_arg": _cstr(raw)}
            elif a.type == "bpf_attr":
                arg = {"bpf_attr_arg": _bpf_attr(raw)}
            elif a.type == "skb":
                arg = {"skb_arg": _skb(raw)}
            elif a.type == "int32_arr":
                vals = list(struct.unpack(f"<{n // 4}i", raw[: n // 4 * 4]))
                arg = {"int32_list_arg": {"values": vals}}
            elif a.type == "perf_event":
                arg = {"perf_event_arg": _perf_event(raw)}
            elif a.type == "bpf_map":
                arg = {"bpf_map_arg": _bpf_map(raw)}
            elif a.type == "sockaddr":
                arg = _sockaddr(data[base : base + SLOT], n)
            elif a.type == "dns":
                unread = aflags[a.pos] & ARG_ERROR  # not even a header could be read
                arg = {"dns_arg": {} if unread else _dns(data[base : base + SLOT])}
            else:
                arg = {}
        if a.label:
            arg["label"] = a.label
        out.append(arg)
    return out


def _dns(slot: bytes) -> dict:
    """A dns argument: the message's id and flags, and the question of a query (name,
    type, class) when the kernel parsed one."""
    if len(slot) < DNS_INFO_AT + DNS_INFO.size:
        return {}
    tx_id, flags, qtype, qclass, status = DNS_INFO.unpack_from(slot, DNS_INFO_AT)
    out: dict = {"tx_id": tx_id, "flags": flags}
    if status & DNS_PARSED:
        out["query_name"] = _cstr(slot[:DNS_INFO_AT])
        out["query_type"] = qtype
        out["query_class"] = qclass
    return out


def int_value(type_: str, v: int) -> dict:
    """An integer argument or return value as Tetragon encodes it (int64 as strings)."""
    ctype, key = INT_ARG_ENCODING[type_]
    bits = int(ctype[1:])
    v &= (1 << bits) - 1
    if ctype[0] == "s" and v >= 1 << (bits - 1):
        v -= 1 << bits
    if key == "capability_arg":
        return {"capability_arg": {"value": v, "name": _cap_name(v)}}
    if key in ("kernel_cap_t_arg", "cap_inheritable_arg", "cap_permitted_arg", "cap_effective_arg"):
        return {key: f"{v:016x}"}  # Tetragon prints capability sets as 16 hex digits
    if key in ("long_arg", "size_arg"):
        return {key: str(v)}
    return {key or "int_arg": v}


def return_arg(type_: str, v: int) -> dict:
    return int_value(type_, v)


def return_value(plan: HookPlan, data: bytes, v: int) -> dict:
    """The event's `return`: an integer, or the object read into the return slot."""
    if plan.ret_slot < 0:
        return int_value(plan.ret_type, v)
    base = SLOTS_AT + plan.ret_slot * SLOT
    return {"sock_arg": _sock(data[base : base + SOCK.size])} if v else {}


CRED = struct.Struct("<10I3Q4I")
BPF_ATTR = struct.Struct("<II16s")
SKB = struct.Struct("<6IHHHBBHH4I4I")
PERF_EVENT = struct.Struct("<QQII128s")
BPF_MAP = struct.Struct("<4I16s")

# the C structs of bpf/include/policy.h these formats read (checked against BTF by
# tests/unit/test_wire_layouts.py)
LAYOUTS = (
    Layout("pmsg", (PMSG,), tail="slots"),
    Layout("sock_info", (SOCK,)),
    Layout("cred_info", (CRED,)),
    Layout("bpf_attr_info", (BPF_ATTR,)),
    Layout("skb_info", (SKB,)),
    Layout("perf_event_info", (PERF_EVENT,)),
    Layout("bpf_map_info_arg", (BPF_MAP,)),
    Layout("load_info_msg", (LOAD_INFO,)),
)
PROG_TYPES = {
    0: "BPF_PROG_TYPE_UNSPEC", 1: "BPF_PROG_TYPE_SOCKET_FILTER", 2: "BPF_PROG_TYPE_KPROBE",
    3: "BPF_PROG_TYPE_SCHED_CLS", 4: "BPF_PROG_TYPE_SCHED_ACT", 5: "BPF_PROG_TYPE_TRACEPOINT",
    6: "BPF_PROG_TYPE_XDP", 7: "BPF_PROG_TYPE_PERF_EVENT", 8: "BPF_PROG_TYPE_CGROUP_SKB",
    9: "BPF_PROG_TYPE_CGROUP_SOCK", 17: "BPF_PROG_TYPE_RAW_TRACEPOINT",
    26: "BPF_PROG_TYPE_TRACING", 29: "BPF_PROG_TYPE_LSM",
}  # fmt: skip
HOST_USERNS = None


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode(errors="replace")


def _caps(mask: int) -> list[str]:
    return [_cap_name(i) for i in range(64) if mask >> i & 1]


def _host_userns() -> int:
    global HOST_USERNS
    if HOST_USERNS is None:
        try:
            import os

            HOST_USERNS = os.stat("/proc/1/ns/user").st_ino
        except OSError:
            HOST_USERNS = 0
    return HOST_USERNS


def _cred(raw: bytes) -> dict:
    if len(raw) < CRED.size:
        return {}
    (uid, gid, suid, sgid, euid, egid, fsuid, fsgid, securebits, level, cinh, cperm, ceff,
     owner, group, inum, _pad) = CRED.unpack_from(raw)  # fmt: skip
    out = {"uid": uid, "gid": gid, "euid": euid, "egid": egid, "suid": suid, "sgid": sgid,
           "fsuid": fsuid, "fsgid": fsgid}  # fmt: skip
    if securebits:
        out["securebits"] = [str(securebits)]
    out["caps"] = {k: v for k, v in (("permitted", _caps(cperm)), ("effective", _caps(ceff)),
                                      ("inheritable", _caps(cinh))) if v}  # fmt: skip
    out["user_ns"] = {"level": level, "uid": owner, "gid": group,
                      "ns": {"inum": inum, "is_host": inum == _host_userns()}}  # fmt: skip
    return out


def _bpf_attr(raw: bytes) -> dict:
    if len(raw) < BPF_ATTR.size:
        return {}
    ptype, insns, name = BPF_ATTR.unpack_from(raw)
    return {"ProgType": PROG_TYPES.get(ptype, str(ptype)), "InsnCnt": insns,
            "ProgName": _cstr(name)}  # fmt: skip


PERF_TYPES = {0: "PERF_TYPE_HARDWARE", 1: "PERF_TYPE_SOFTWARE", 2: "PERF_TYPE_TRACEPOINT",
              3: "PERF_TYPE_HW_CACHE", 4: "PERF_TYPE_RAW", 5: "PERF_TYPE_BREAKPOINT"}  # fmt: skip
MAP_TYPES = [
    "UNSPEC", "HASH", "ARRAY", "PROG_ARRAY", "PERF_EVENT_ARRAY", "PERCPU_HASH", "PERCPU_ARRAY",
    "STACK_TRACE", "CGROUP_ARRAY", "LRU_HASH", "LRU_PERCPU_HASH", "LPM_TRIE", "ARRAY_OF_MAPS",
    "HASH_OF_MAPS", "DEVMAP", "SOCKMAP", "CPUMAP", "XSKMAP", "SOCKHASH", "CGROUP_STORAGE",
    "REUSEPORT_SOCKARRAY", "PERCPU_CGROUP_STORAGE", "QUEUE", "STACK", "SK_STORAGE",
    "DEVMAP_HASH", "STRUCT_OPS", "RINGBUF", "INODE_STORAGE", "TASK_STORAGE", "BLOOM_FILTER",
    "USER_RINGBUF", "CGRP_STORAGE", "ARENA",
]  # fmt: skip


def _perf_event(raw: bytes) -> dict:
    if len(raw) < PERF_EVENT.size:
        return {}
    config, offset, typ, _pad, fn = PERF_EVENT.unpack_from(raw)
    out: dict = {"KprobeFunc": _cstr(fn), "Type": PERF_TYPES.get(typ, str(typ))}
    if config:
        out["Config"] = str(config)  # uint64: a string in Tetragon's JSON
    if offset:
        out["ProbeOffset"] = str(offset)
    return out


def _bpf_map(raw: bytes) -> dict:
    if len(raw) < BPF_MAP.size:
        return {}
    mtype, ksize, vsize, maxe, name = BPF_MAP.unpack_from(raw)
    kind = MAP_TYPES[mtype] if mtype < len(MAP_TYPES) else str(mtype)
    return {"MapType": f"BPF_MAP_TYPE_{kind}", "KeySize": ksize, "ValueSize": vsize,
            "MaxEntries": maxe, "MapName": _cstr(name)}  # fmt: skip


def _skb(raw: bytes) -> dict:
    if len(raw) < SKB.size:
        return {}
    v = SKB.unpack_from(raw)
    h, ln, prio, mark, saddr, daddr, sport, dport, _l3, proto, _pad, fam, _pad2 = v[:13]
    saddr6, daddr6 = _words(v[13:17]), _words(v[17:21])
    out = {
        "hash": h, "len": ln, "priority": prio, "mark": mark,
        "saddr": _addr(fam, saddr, saddr6), "daddr": _addr(fam, daddr, daddr6),
        "sport": sport, "dport": dport, "proto": proto,
    }  # fmt: skip
    if fam:
        out["protocol"] = PROTOS.get(proto, str(proto))
        out["family"] = FAMILIES.get(fam, str(fam))
    return out


def _words(ws) -> bytes:
    """Four u32 read little-endian back into the 16 bytes of an address."""
    return struct.pack("<4I", *ws)


def _addr(family: int, v4: int, v6: bytes) -> str:
    """An address as Tetragon prints it: dotted IPv4, or IPv6 text for AF_INET6."""
    if family == 10:
        return socket.inet_ntop(socket.AF_INET6, v6)
    return socket.inet_ntoa(struct.pack("<I", v4))


def _kernel_module(slot: bytes, loading: bool) -> dict:
    """KernelModule: name, the taint flags the module brings and, for a module being loaded
    (load_info), signature_ok (false too where the kernel checks no signature, as Tetragon
    reports it)."""
    if len(slot) < LOAD_INFO.size:
        return {}
    sig_ok, _pad, taints, name = LOAD_INFO.unpack_from(slot)
    out: dict = {"name": _cstr(name)}
    if loading:
        out["signature_ok"] = bool(sig_ok)
    tainted = [n for bit, n in TAINT_BITS.items() if taints & bit]
    if tainted:
        out["tainted"] = tainted
    return out


SOCKADDR_UN_PATH = 64  # where sockaddr_arg puts an AF_UNIX path in its slot


def _sockaddr(slot: bytes, n: int) -> dict:
    """sockaddr_arg (family, addr, port), or sockaddrun_arg for an AF_UNIX path."""
    if n < SOCK.size:
        return {"sockaddr_arg": {}}
    v = SOCK.unpack_from(slot)
    saddr, sport, fam = v[0], v[2], v[4]
    family = FAMILIES.get(fam, str(fam))
    if fam == 1:
        return {"sockaddrun_arg": {"family": family, "path": _cstr(slot[SOCKADDR_UN_PATH:])}}
    out: dict = {"family": family}
    if fam in (2, 10):
        out["addr"] = _addr(fam, saddr, _words(v[9:13]))
        out["port"] = sport
    return {"sockaddr_arg": out}


def stack_traces(plan: HookPlan, data: bytes, obj, pid: int, expose: bool) -> dict:
    """The stack traces a Post action asked for (appliance.policy.stacks), if any."""
    if plan.stack_slot < 0:
        return {}
    from appliance.policy.stacks import stack_fields

    base = SLOTS_AT + plan.stack_slot * SLOT
    return stack_fields(obj, data[base : base + 8], pid, expose)


#: the kernel's enum hash_algo (include/uapi/linux/hash_info.h): name, digest size
IMA_ALGOS = {
    0: ("md4", 16), 1: ("md5", 16), 2: ("sha1", 20), 3: ("rmd160", 20), 4: ("sha256", 32),
    5: ("sha384", 48), 6: ("sha512", 64), 7: ("sha224", 28), 8: ("rmd128", 16),
    9: ("rmd256", 32), 10: ("rmd320", 40), 11: ("wp256", 32), 12: ("wp384", 48),
    13: ("wp512", 64), 14: ("tgr128", 16), 15: ("tgr160", 20), 16: ("tgr192", 24),
    17: ("sm3", 32), 18: ("streebog256", 32), 19: ("streebog512", 64),
}  # fmt: skip


def ima_hash(plan: HookPlan, data: bytes, selector: int) -> dict:
    """``ima_hash`` ("algo:hex digest") of a Post imaHash event; none where the kernel
    gave no hash (an error, or an algorithm this table does not know)."""
    algo = ima_algo(plan, data, selector)
    known = IMA_ALGOS.get(algo) if algo is not None else None
    if known is None:
        return {}
    name, size = known
    base = SLOTS_AT + plan.ima_slot * SLOT
    return {"ima_hash": f"{name}:{data[base + 8 : base + 8 + size].hex()}"}


def ima_algo(plan: HookPlan, data: bytes, selector: int) -> int | None:
    """What bpf_ima_file_hash returned for this event (a hash_algo, or -errno); None
    where the event asked for no hash."""
    if plan.ima_slot < 0 or selector not in plan.ima_selectors:
        return None
    return struct.unpack_from("<q", data, SLOTS_AT + plan.ima_slot * SLOT)[0]


def ima_error(algo: int) -> str:
    """Why an event has no ``ima_hash``, for the log."""
    if algo == -errno.EOPNOTSUPP:
        return (
            "IMA could not measure the file (EOPNOTSUPP); on file_open the file is not "
            "readable yet, so only a file IMA's policy already measured has a hash there "
            "(bprm_check_security and mmap_file hash any file)"
        )
    if algo < 0:
        return f"bpf_ima_file_hash failed: {errno.errorcode.get(-algo, str(-algo))}"
    return f"unknown hash algorithm {algo}"


def _sock(raw: bytes) -> dict:
    if len(raw) < SOCK.size:
        return {}
    v = SOCK.unpack_from(raw)
    saddr, daddr, sport, dport, fam, typ, proto, state, _ = v[:9]
    saddr6, daddr6 = _words(v[9:13]), _words(v[13:17])
    return {
        "family": FAMILIES.get(fam, str(fam)),
        "type": SOCK_TYPES.get(typ, str(typ)),
        "protocol": PROTOS.get(proto, str(proto)),
        "saddr": _addr(fam, saddr, saddr6),
        "daddr": _addr(fam, daddr, daddr6),
        "sport": sport,
        "dport": dport,
        "state": STATES.get(state, str(state)),
    }


def action_name(n: int) -> str:
    return ACTION_ENUM.get(n, "KPROBE_ACTION_UNKNOWN")


def run_userspace_action(act) -> None:
    """GetUrl and DnsLookup happen in the agent, off the event loop."""

    def work():
        try:
            if act.action == "GetUrl" and act.arg_url:
                import urllib.request

                urllib.request.urlopen(act.arg_url, timeout=5).read(1)
            elif act.action == "DnsLookup" and act.arg_fqdn:
                socket.getaddrinfo(act.arg_fqdn, None)
        except Exception:
            pass

    threading.Thread(target=work, daemon=True).start()
