"""Hook plans -> specialised BPF C.

Each hook of a policy becomes one BPF program whose selectors are inlined as
plain comparisons: a selector that never matches costs a few instructions,
not an interpreter loop. Cheap conditions (integer arguments, pids,
binaries, namespaces, capabilities) are tested before any string or path is
read, so a non-matching call returns early.
"""

from __future__ import annotations

import ipaddress
import os
import re

from appliance.errors import PolicyError
from appliance.policy import uregs, verdict
from appliance.policy.constants import ADDRESS_FAMILIES, CAPABILITIES, IP_PROTOCOLS, TCP_STATES
from appliance.policy.enforcer import CLEANUP_STMT, ENFORCER_MAP, enforcer_c, notify_stmt
from appliance.policy.inmap import inmap_cond, inmap_values
from appliance.policy.plan import ArgPlan, HookPlan, arg_targets
from appliance.policy.usdt import address_c
from appliance.policy.values import parse_capability, parse_file_type, parse_int_range
from appliance.policy.vocabulary import (
    ACTION_NUM,
    CAP_SET_TYPES,
    DNS_NAME_MAX,
    FILE_TYPE_OPS,
    INT_ARG_ENCODING,
    MAP_OPS,
    RANGE_OPS,
    SLOT_TYPES,
    STRING_OPS,
    SUBSTRING_KFUNCS,
)

SLOT_STR_MAX = 1023
NS_FIELDS = {
    "Uts": ("nsproxy", "uts_ns"), "Ipc": ("nsproxy", "ipc_ns"), "Mnt": ("nsproxy", "mnt_ns"),
    "PidForChildren": ("nsproxy", "pid_ns_for_children"), "Net": ("nsproxy", "net_ns"),
    "Time": ("nsproxy", "time_ns"), "TimeForChildren": ("nsproxy", "time_ns_for_children"),
    "Cgroup": ("nsproxy", "cgroup_ns"),
}  # fmt: skip
NS_PROC = {
    "Uts": "uts", "Ipc": "ipc", "Mnt": "mnt", "Pid": "pid", "PidForChildren": "pid_for_children",
    "Net": "net", "Time": "time", "TimeForChildren": "time_for_children", "Cgroup": "cgroup",
    "User": "user",
}  # fmt: skip


def _c_str_cond(
    p: str,
    lenexpr: str,
    op: str,
    values: list[str],
    path: str = "",
    limit: int = SLOT_STR_MAX - 1,
    bound: str = "bound1023",
) -> str:
    """Compare a captured string; a value past what the kernel captures is refused, not cut.

    The kernel keeps at most SLOT_STR_MAX bytes of a string, so an Equal value of that length
    would also match every longer string; the limit is one byte less.
    """
    conds = []
    for vi, v in enumerate(values):
        b = v.encode()
        if len(b) > limit:
            raise PolicyError(
                f"{path}.values[{vi}]: value of {len(b)} bytes is longer than the in-kernel "
                f"string comparison limit of {limit} bytes"
            )
        n = len(b)
        if op in ("Equal", "NotEqual"):
            parts = [f"{lenexpr} == {n}"] + [f"{p}[{i}] == {c}" for i, c in enumerate(b)]
        elif op in ("Prefix", "NotPrefix"):
            parts = [f"{lenexpr} >= {n}"] + [f"{p}[{i}] == {c}" for i, c in enumerate(b)]
        else:  # Postfix: byte i of the value at len - n + i, each offset bounded alone
            parts = [f"{lenexpr} >= {n}"] + [
                f"{p}[{bound}({lenexpr} - {n - i})] == {c}" for i, c in enumerate(b)
            ]
        conds.append("(" + " && ".join(parts) + ")")
    any_ = "(" + " || ".join(conds) + ")" if conds else "0"
    return f"(!{any_})" if op.startswith("Not") else any_


def _int_values(values: list[str], path: str) -> list[int]:
    out = []
    for v in values:
        try:
            out.append(int(str(v), 0))
        except ValueError:
            raise PolicyError(f"{path}.values: {v!r} is not a number") from None
    return out


def _c_int_cond(expr: str, op: str, values: list[int], path: str) -> str:
    if not values:
        raise PolicyError(f"{path}.values: at least one value is needed for {op}")
    if op == "Equal":
        return "(" + " || ".join(f"{expr} == {v}LL" for v in values) + ")"
    if op == "NotEqual":
        return "(" + " && ".join(f"{expr} != {v}LL" for v in values) + ")"
    if op == "GT":
        return f"({expr} > {values[0]}LL)"
    if op == "LT":
        return f"({expr} < {values[0]}LL)"
    if op == "Mask":
        return "(" + " || ".join(f"(({expr}) & {v}LL) != 0" for v in values) + ")"
    raise PolicyError(f"{path}.operator: {op} is not supported on integers")


def _num(text, value, path: str) -> int:
    """An integer of a values entry, or a refusal naming the entry."""
    try:
        return int(str(text).strip(), 0)
    except ValueError:
        raise PolicyError(f"{path}.values: {value!r} is not a number or a range") from None


def _c_sock_cond(si: str, op: str, values: list[str], path: str, proto: str = "protocol") -> str:
    """A network selector on a sock_info / skb_info / sockaddr_info (``proto``: the name
    of the IP protocol field); addresses of either family, a CIDR of one family only
    matching that family."""
    neg = op.startswith("Not")
    base = op[3:] if neg else op
    conds = []
    if base in ("SPort", "DPort"):
        fld = "sport" if base == "SPort" else "dport"
        for v in values:
            if "-" in str(v):
                lo, hi = (_num(x, v, path) for x in str(v).split("-", 1))
                conds.append(f"({si}->{fld} >= {lo} && {si}->{fld} <= {hi})")
            else:
                conds.append(f"({si}->{fld} == {_num(v, v, path)})")
    elif base in ("SPortPriv", "DPortPriv"):
        fld = "sport" if base == "SPortPriv" else "dport"
        conds.append(f"({si}->{fld} < 1024)")
    elif base in ("SAddr", "DAddr"):
        fld = "saddr" if base == "SAddr" else "daddr"
        for v in values:
            conds.append(_c_addr_cond(si, fld, str(v), path))
    elif base == "Protocol":
        for v in values:
            n = IP_PROTOCOLS.get(str(v), None)
            conds.append(f"({si}->{proto} == {n if n is not None else _num(v, v, path)})")
    elif base == "Family":
        for v in values:
            n = ADDRESS_FAMILIES.get(str(v), None)
            conds.append(f"({si}->family == {n if n is not None else _num(v, v, path)})")
    elif base == "State":
        for v in values:
            n = TCP_STATES.get(str(v), None)
            conds.append(f"({si}->state == {n if n is not None else _num(v, v, path)})")
    any_ = "(" + " || ".join(conds) + ")" if conds else "0"
    return f"(!{any_})" if neg else any_


def _c_addr_cond(si: str, fld: str, value: str, path: str) -> str:
    """An address or CIDR against the IPv4 field ``fld`` or, for IPv6, the four
    network-order words of ``fld``6 of an AF_INET6 address."""
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise PolicyError(f"{path}.values: {value!r} is not an address or CIDR") from None
    if net.version == 4:
        mask = int(net.netmask)
        return f"((__builtin_bswap32({si}->{fld}) & {mask}U) == {int(net.network_address)}U)"
    addr, mask = int(net.network_address), int(net.netmask)
    parts = [f"{si}->family == 10"]
    for w in range(4):
        shift = 96 - 32 * w
        wm, wv = (mask >> shift) & 0xFFFFFFFF, (addr >> shift) & 0xFFFFFFFF
        if wm:
            parts.append(f"(__builtin_bswap32({si}->{fld}6[{w}]) & {wm}U) == {wv}U")
    return "(" + " && ".join(parts) + ")"


def _host_ns(kind: str) -> int:
    try:
        return os.stat(f"/proc/1/ns/{NS_PROC[kind]}").st_ino
    except OSError:
        return 0


def _selector_conds(p: HookPlan, s, sp: str) -> tuple[list[str], list[str]]:
    """(cheap conditions, conditions needing the slots read)."""
    cheap, late = [], []
    for mp in s.match_pids:
        vals = [int(v) for v in mp.values]
        pid = "ns_pid(task)" if mp.is_namespace_pid else "tgid"
        if mp.follow_forks:
            fn = f"pidsel_{p.hook_id}_{len(p.helpers)}"
            p.helpers.append(_pid_tree_fn(fn, vals, mp.is_namespace_pid))
            cond = f"{fn}(task)"
        else:
            cond = "(" + " || ".join(f"{pid} == {v}" for v in vals) + ")" if vals else "0"
        cheap.append(f"(!{cond})" if mp.operator == "NotIn" else cond)
    for bi, mb in enumerate(s.match_binaries):
        fn = f"binsel_{p.hook_id}_{len(p.helpers)}"
        bp = f"{sp}.matchBinaries[{bi}]"
        p.helpers.append(_bin_fn(fn, mb.operator, mb.values, mb.follow_children, bp))
        cheap.append(f"{fn}(tgid, task)")
    for bi, mb in enumerate(s.match_parent_binaries):
        # Tetragon's matchParentBinaries: the binary the parent process executed
        fn = f"parbinsel_{p.hook_id}_{len(p.helpers)}"
        bp = f"{sp}.matchParentBinaries[{bi}]"
        p.helpers.append(_bin_fn(fn, mb.operator, mb.values, mb.follow_children, bp, parent=True))
        cheap.append(f"{fn}(tgid, task)")
    for ni, mn in enumerate(s.match_namespaces):
        kind = mn.namespace
        if kind == "Pid":
            expr = "pid_ns_inum(task)"
        elif kind == "User":
            expr = "BPF_CORE_READ(task, cred, user_ns, ns.inum)"
        else:
            a, b = NS_FIELDS[kind]
            expr = f"BPF_CORE_READ(task, {a}, {b}, ns.inum)"
        vals = _ns_values(kind, mn.values, f"{sp}.matchNamespaces[{ni}]")
        cond = "(" + " || ".join(f"{expr} == {v}U" for v in vals) + ")" if vals else "0"
        cheap.append(f"(!{cond})" if mn.operator == "NotIn" else cond)
    for mc in s.match_namespace_changes:
        fn = f"nschg_{p.hook_id}_{len(p.helpers)}"
        p.helpers.append(_ns_changes_fn(fn, [str(v) for v in mc.values]))
        cheap.append(f"(!{fn}(tgid, task))" if mc.operator == "NotIn" else f"{fn}(tgid, task)")
    for ci, mc in enumerate(s.match_capability_changes):
        if mc.is_namespace_capability:
            raise PolicyError(
                f"{sp}.matchCapabilityChanges[{ci}].isNamespaceCapability: not supported"
            )
        fn = f"capchg_{p.hook_id}_{len(p.helpers)}"
        mask = 0
        for v in mc.values:
            mask |= 1 << CAPABILITIES[str(v)]
        p.helpers.append(_cap_changes_fn(fn, mc.type, mask))
        cheap.append(f"(!{fn}(tgid, task))" if mc.operator == "NotIn" else f"{fn}(tgid, task)")
    for ci, mc in enumerate(s.match_capabilities):
        if mc.is_namespace_capability:
            raise PolicyError(f"{sp}.matchCapabilities[{ci}].isNamespaceCapability: not supported")
        mask = 0
        for v in mc.values:
            mask |= 1 << CAPABILITIES[str(v)]
        fld = {"Effective": "cap_effective", "Permitted": "cap_permitted",
               "Inheritable": "cap_inheritable"}[mc.type]  # fmt: skip
        expr = f"(cap_set(task, bpf_core_field_offset(struct cred, {fld})) & {mask}ULL)"
        cheap.append(f"({expr} == 0)" if mc.operator == "NotIn" else f"({expr} != 0)")
    match = [("matchArgs", mi, ma) for mi, ma in enumerate(s.match_args)]
    match += [("matchData", mi, ma) for mi, ma in enumerate(s.match_data)]
    for key, mi, ma in match:
        path = f"{sp}.{key}[{mi}]"
        for a in arg_targets(p, ma, path, key):
            if a.type in ("sock", "socket", "sockaddr"):
                late.append(_c_sock_cond(f"sock_of(m, {a.slot})", ma.operator, ma.values, path))
            elif a.type == "skb":
                si = f"((struct skb_info *)m->slots[{a.slot}])"
                late.append(_c_sock_cond(si, ma.operator, ma.values, path, proto="proto"))
            elif a.type == "dns":
                # the kernel writes query names in lower case, without the root's dot
                names = [str(v).lower().removesuffix(".") for v in ma.values]
                # and only a parsed query has a name, even for the Not operators
                cond = _c_str_cond(f"m->slots[{a.slot}]", f"m->lens[{a.pos}]", ma.operator,
                                   names, path, limit=DNS_NAME_MAX)  # fmt: skip
                late.append(f"(dns_parsed(m->slots[{a.slot}]) && {cond})")
            elif a.type in ("file", "path") and ma.operator in FILE_TYPE_OPS:
                late.append(_c_file_type_cond(f"m->ints[{a.pos}]", ma.operator, ma.values, path))
            elif a.type in SLOT_TYPES and ma.operator in SUBSTRING_KFUNCS:
                late.append(_c_substring_cond(p, a, ma.operator, ma.values, path))
            elif a.type in SLOT_TYPES and ma.operator in STRING_OPS:
                late.append(
                    _c_str_cond(f"m->slots[{a.slot}]", f"m->lens[{a.pos}]", ma.operator,
                                [str(v) for v in ma.values], path)
                )  # fmt: skip
            else:
                ctype = INT_ARG_ENCODING.get(a.type, ("s64", ""))[0]
                expr = f"(({ctype})a{a.pos})"
                if a.type == "fd":
                    expr = f"((s32)a{a.pos})"
                if not ma.values:
                    raise PolicyError(
                        f"{path}.values: at least one value is needed for {ma.operator}"
                    )
                if a.type in CAP_SET_TYPES:  # values: capability names or bit numbers
                    mask = 0
                    for v in ma.values:
                        try:
                            mask |= 1 << parse_capability(str(v))
                        except ValueError as e:
                            raise PolicyError(f"{path}.values: {e}") from None
                    op = "Mask" if ma.operator == "CapabilityMask" else ma.operator
                    cheap.append(_c_int_cond(f"((u64)a{a.pos})", op, [mask], path))
                    continue
                if ma.operator in MAP_OPS:
                    vals = inmap_values(p, [str(v) for v in ma.values], path)
                    cheap.append(inmap_cond(p, expr, ma.operator, vals))
                    continue
                if ma.operator in RANGE_OPS:
                    cheap.append(_c_range_cond(expr, a.type, ma.operator, ma.values, path))
                    continue
                vals = _int_values(ma.values, path)
                cheap.append(_c_int_cond(expr, ma.operator, vals, path))
    return cheap, late


def _c_range_cond(expr: str, arg_type: str, op: str, values: list, path: str) -> str:
    """InRange / NotInRange: any of the inclusive min:max ranges (NotInRange: none)."""
    unsigned = INT_ARG_ENCODING.get(arg_type, ("s64",))[0].startswith("u")
    sfx = "ULL" if unsigned else "LL"
    conds = []
    for vi, v in enumerate(values):
        try:
            lo, hi = parse_int_range(str(v), arg_type)
        except ValueError as e:
            raise PolicyError(f"{path}.values[{vi}]: {e}") from None
        conds.append(f"({expr} >= {lo}{sfx} && {expr} <= {hi}{sfx})")
    any_ = "(" + " || ".join(conds) + ")"
    return f"(!{any_})" if op == "NotInRange" else any_


def _c_file_type_cond(mode: str, op: str, values: list, path: str) -> str:
    """FileType / NotFileType: the inode's type (S_IFMT bits of its mode) is one of them."""
    kinds = []
    for vi, v in enumerate(values):
        try:
            kinds.append(parse_file_type(str(v)))
        except ValueError as e:
            raise PolicyError(f"{path}.values[{vi}]: {e}") from None
    any_ = "(" + " || ".join(f"(({mode}) & 0170000) == 0{k:o}" for k in kinds) + ")"
    return f"(!{any_})" if op == "NotFileType" else any_


def _c_substring_cond(p: HookPlan, a: ArgPlan, op: str, values: list, path: str) -> str:
    """SubString / SubStringIgnCase: the kernel's bpf_strnstr / bpf_strncasestr over the
    captured string, each value a constant of the program."""
    kfunc = SUBSTRING_KFUNCS[op]
    p.helpers.append(
        f"extern int {kfunc}(const char *s1__ign, const char *s2__ign, unsigned long len)"
        " __ksym __weak;\n"
    )
    conds = []
    for vi, v in enumerate(values):
        b = str(v).encode()
        if len(b) > SLOT_STR_MAX - 1:
            raise PolicyError(
                f"{path}.values[{vi}]: value of {len(b)} bytes is longer than the in-kernel "
                f"string comparison limit of {SLOT_STR_MAX - 1} bytes"
            )
        name = f"substr_{p.hook_id}_{len(p.helpers)}_{vi}"
        init = ", ".join(str(c) for c in b + b"\0")
        p.helpers.append(f"static const char {name}[] = {{{init}}};\n")
        conds.append(f"({kfunc}((const char *)m->slots[{a.slot}], {name}, m->lens[{a.pos}]) >= 0)")
    return "(" + " || ".join(conds) + ")"


def _ns_values(kind: str, values: list[str], path: str) -> list[int]:
    out = []
    for vi, v in enumerate(values):
        if str(v) == "host_ns":
            out.append(_host_ns(kind))
            continue
        try:
            n = int(str(v), 0)
        except ValueError:
            n = -1
        if not 0 <= n <= 0xFFFFFFFF:
            raise PolicyError(
                f"{path}.values[{vi}]: {v!r} is not a namespace inode number or host_ns"
            )
        out.append(n)
    return out


#: msg_exec.ns / exec_info.ns order, and the current task's value of each
NS_ORDER = ["Uts", "Ipc", "Mnt", "Pid", "PidForChildren", "Net", "Time", "TimeForChildren",
            "Cgroup", "User"]  # fmt: skip


def _ns_now(kind: str) -> str:
    if kind == "Pid":
        return "pid_ns_inum(task)"
    if kind == "User":
        return "BPF_CORE_READ(task, cred, user_ns, ns.inum)"
    a, b = NS_FIELDS[kind]
    return f"BPF_CORE_READ(task, {a}, {b}, ns.inum)"


def _ns_changes_fn(fn: str, kinds: list[str]) -> str:
    """matchNamespaceChanges: one of ``kinds`` differs from what the process had at exec."""
    tests = " || ".join(f"{_ns_now(k)} != e->ns[{NS_ORDER.index(k)}]" for k in kinds) or "0"
    return f"""
static __always_inline int {fn}(u32 tgid, struct task_struct *task)
{{
	struct exec_info *e = exec_info_of(tgid);
	if (!e || !(e->flags & EXEC_INFO_STATE))
		return 0;
	return {tests};
}}
"""


def _cap_changes_fn(fn: str, kind: str, mask: int) -> str:
    """matchCapabilityChanges: a capability of ``mask`` in set ``kind`` differs from exec."""
    fld = {"Effective": "cap_effective", "Permitted": "cap_permitted",
           "Inheritable": "cap_inheritable"}[kind]  # fmt: skip
    return f"""
static __always_inline int {fn}(u32 tgid, struct task_struct *task)
{{
	struct exec_info *e = exec_info_of(tgid);
	if (!e || !(e->flags & EXEC_INFO_STATE))
		return 0;
	u64 now = cap_set(task, bpf_core_field_offset(struct cred, {fld}));
	return ((now ^ e->{fld}) & {mask}ULL) != 0;
}}
"""


def _pid_tree_fn(fn: str, vals: list[int], ns: bool) -> str:
    test = " || ".join(f"p == {v}" for v in vals) or "0"
    getter = "ns_pid(t)" if ns else "BPF_CORE_READ(t, tgid)"
    return f"""
static __always_inline int {fn}(struct task_struct *task)
{{
	struct task_struct *t = task;
	for (int i = 0; i < 16; i++) {{
		u32 p = {getter};
		if ({test})
			return 1;
		if (p <= 1)
			return 0;
		t = BPF_CORE_READ(t, real_parent);
	}}
	return 0;
}}
"""


def _bin_fn(
    fn: str, op: str, values: list[str], follow: bool, path: str, parent: bool = False
) -> str:
    """A binary selector; ``parent`` tests the parent process (and, with ``follow``, its
    ancestors) instead of the current one."""
    base = op[3:] if op.startswith("Not") else op
    sop = {"In": "Equal", "Prefix": "Prefix", "Postfix": "Postfix"}[base]
    for vi, v in enumerate(values):
        if len(v.encode()) > 255:
            raise PolicyError(f"{path}.values[{vi}]: longer than 255 bytes: {v[:40]}...")
    cond = _c_str_cond("e->bin", "e->bin_len", sop, values, path, 255, "bound255")
    neg = op.startswith("Not")
    start = (
        "\tstruct task_struct *t = BPF_CORE_READ(task, real_parent);\n"
        "\tu32 p = BPF_CORE_READ(t, tgid);"
        if parent
        else "\tstruct task_struct *t = task;\n\tu32 p = tgid;"
    )
    if not follow:
        return f"""
static __always_inline int {fn}(u32 tgid, struct task_struct *task)
{{
{start}
	struct exec_info *e = exec_info_of(p);
	if (!e)
		return {1 if neg else 0};
	return {"!" if neg else ""}{cond};
}}
"""
    return f"""
static __always_inline int {fn}(u32 tgid, struct task_struct *task)
{{
{start}
	int hit = 0;
	for (int i = 0; i < 8; i++) {{
		struct exec_info *e = exec_info_of(p);
		if (e && {cond}) {{
			hit = 1;
			break;
		}}
		if (p <= 1)
			break;
		t = BPF_CORE_READ(t, real_parent);
		p = BPF_CORE_READ(t, tgid);
	}}
	return {"!hit" if neg else "hit"};
}}
"""


def _arg_fetch(p: HookPlan, a: ArgPlan) -> str:
    i = a.index
    if a.fetch:
        return a.fetch
    if p.method == "tracepoint" and p.kind == "kprobe":
        return f"(((u64 *)((char *)ctx + 16))[{i}])"
    if p.method == "tracepoint":
        ctype = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}.get(a.tp_size, "u64")
        if a.tp_signed:
            ctype = "s" + ctype[1:]
        return f"((u64)(*({ctype} *)((char *)ctx + {a.tp_offset})))"
    if p.method in ("fentry", "fmod_ret", "lsm", "tp_btf"):
        if p.syscall:
            return f"((u64)PT_REGS_PARM{i + 1}_CORE_SYSCALL(regs))"
        return f"(ctx[{i}])"
    if p.method == "kprobe":
        if p.syscall:
            return f"((u64)PT_REGS_PARM{i + 1}_CORE_SYSCALL(regs))"
        return f"((u64)PT_REGS_PARM{i + 1}(ctx))"
    if p.method == "uprobe":
        return f"((u64)PT_REGS_PARM{i + 1}(ctx))"
    raise PolicyError(f"no argument access for {p.method}")


def _actions_code(p: HookPlan, si: int, s) -> tuple[str, int]:
    """C for one selector's actions; also returns the override value (0 = none)."""
    lines = []
    acts = list(s.match_actions) or []
    post = not any(a.action == "NoPost" for a in acts)
    action = 1
    override = 0
    rl = None
    sp = f"{p.yaml_path}.selectors[{si}]"
    for ai, a in enumerate(acts):
        if a.action == "Sigkill":
            lines.append("bpf_send_signal(9);")
            lines.append(f"pcount({p.hook_id}, PC_ACTIONS);")
            action = 3
        elif a.action == "Signal":
            lines.append(f"bpf_send_signal({int(a.arg_sig or 0)});")
            lines.append(f"pcount({p.hook_id}, PC_ACTIONS);")
            action = 10
        elif a.action == "Override" and p.kind == "uprobe":
            # the traced program's registers: argRegs, then (argError) back to the caller
            regs = list(a.arg_regs)
            if a.arg_error is not None:
                regs += uregs.return_assignments(int(a.arg_error))
            lines.append(uregs.assign_c(regs, f"{sp}.matchActions[{ai}].argRegs"))
            lines.append(f"pcount({p.hook_id}, PC_ACTIONS);")
            action = 5
        elif a.action == "Regs":
            lines.append(uregs.assign_c(list(a.arg_reg), f"{sp}.matchActions[{ai}].argReg"))
            lines.append(f"pcount({p.hook_id}, PC_ACTIONS);")
        elif a.action == "Override":
            override = int(a.arg_error or 0)
            if p.method == "kprobe":
                lines.append(f"bpf_override_return(ctx, {override});")
            lines.append(f"pcount({p.hook_id}, PC_ACTIONS);")
            action = 5
        elif a.action == "Set" and p.usdt is not None:
            ua = p.usdt.args[a.arg_index or 0]
            ctype = f"{'s' if ua.signed else 'u'}{ua.size * 8}"
            lines.append(
                f"{{ {ctype} sv = {int(a.arg_value or 0)}; "
                f"bpf_probe_write_user({address_c(ua)}, &sv, {ua.size}); }}"
            )
            lines.append(f"pcount({p.hook_id}, PC_ACTIONS);")
            action = 15
        elif a.action == "NotifyEnforcer":
            lines.append(notify_stmt(a))
            if action == 1:
                action = 13
        elif a.action == "CleanupEnforcerNotification":
            lines.append(CLEANUP_STMT)
        elif a.action in ("GetUrl", "DnsLookup"):
            action = ACTION_NUM[a.action]
            p.userspace_actions.setdefault(si, []).append(a)
        elif a.action in ("FollowFD", "UnfollowFD", "CopyFD", "TrackSock", "UntrackSock"):
            if action == 1:
                action = ACTION_NUM[a.action]
        if a.kernel_stack_trace or a.user_stack_trace:
            lines.append(_stack_ids_stmt(p, a.kernel_stack_trace, a.user_stack_trace))
        if a.action == "Post" and a.rate_limit:
            rl = (rate_limit_ns(a.rate_limit), (a.rate_limit_scope or "thread") != "global")
    if not post and p.ret and s.match_return_actions:
        # NoPost on entry: the return half still runs this selector's return actions
        lines.append(f"m->action = {ACTION_NUM['NoPost']};")
        lines.append(f"m->selector = {si};")
        lines.append(f"{{ {_post_stmt(p)} }}")
    if post:
        lines.append(f"m->action = {action};")
        lines.append(f"m->selector = {si};")
        if rl:
            lines.append(
                f"if (rate_limited(m, {(p.hook_id << 8) | si}, {rl[0]}ULL, {int(rl[1])})) "
                f"{{ pcount({p.hook_id}, PC_RATE_LIMITED); }} else"
            )
        if si in p.ima_selectors and not override:
            # kept for the sleepable program that hashes the file (overridden: it never runs)
            # the hooked object marks whose event it is: a stale one (its sleepable half
            # skipped by another program's verdict) is never sent with another's hash
            lines.append(
                f"*(u64 *)m->slots[{p.ima_slot}] = ctx[0]; "
                "if (bpf_map_update_elem(&ima_pending, &id, m, BPF_ANY)) "
                f"pcount({p.hook_id}, PC_LOST);"
            )
        elif p.ret and action == 5:
            # overridden: the function does not run, its return value is the override's
            lines.append(f"{{ m->ret = {override}; emit(m, {p.hook_id}, MSG_SIZE({p.nslots})); }}")
        else:
            lines.append(f"{{ {_post_stmt(p)} }}")
    return "\n\t\t".join(lines), override


#: events a Post imaHash matched, by thread, until the hook's sleepable program hashes
#: (LRU: an event whose sleepable half never ran cannot fill the map)
IMA_PENDING_MAP = (
    "struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 256);"
    ' __type(key, u64); __type(value, struct pmsg); } ima_pending SEC(".maps");'
)


def _ima_hook_c(p: HookPlan) -> str:
    """The sleepable half of an LSM hook with Post imaHash, attached after the event
    program: the file's IMA hash (an exec's bprm->file on bprm_* hooks) into the kept
    event, which it then sends. bpf_ima_file_hash may sleep, so only a sleepable program
    calls it; the filtering stays in the event program, which cannot sleep."""
    file = "((struct linux_binprm *)obj)->file" if p.function_name.startswith("bprm_") \
        else "(struct file *)obj"  # fmt: skip
    # the barrier: the compiler must not pass the (equal) marker read from the map for the
    # hooked object, which the verifier would see as a number, not a kernel pointer
    return f"""
SEC("lsm.s/{p.function_name}")
int hook_{p.hook_id}_ima(u64 *ctx)
{{
	u64 id = bpf_get_current_pid_tgid();
	struct pmsg *m = bpf_map_lookup_elem(&ima_pending, &id);
	if (!m)
		return 0;
	void *obj = (void *)ctx[0];
	asm volatile("" : "+r"(obj));
	if (*(u64 *)m->slots[{p.ima_slot}] == ctx[0]) {{
		ima_hash_slot(m, {p.ima_slot}, {file});
		emit(m, {p.hook_id}, MSG_SIZE({p.nslots}));
	}} else {{
		pcount({p.hook_id}, PC_LOST);  /* another call's event, left behind */
	}}
	bpf_map_delete_elem(&ima_pending, &id);
	return 0;
}}
"""


def _stack_ids_stmt(p: HookPlan, kernel: bool, user: bool) -> str:
    """The stack ids of this call into the stack slot (-1: not asked or not taken)."""
    k = "bpf_get_stackid(ctx, &stack_traces, 0)" if kernel else "-1"
    u = "bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK)" if user else "-1"
    return f"{{ s32 *st = (s32 *)m->slots[{p.stack_slot}]; st[0] = {k}; st[1] = {u}; }}"


#: kernel and user stacks of the Post action, by id (PERF_MAX_STACK_DEPTH frames)
STACK_MAP = (
    "struct { __uint(type, BPF_MAP_TYPE_STACK_TRACE); __uint(max_entries, 4096);"
    ' __type(key, u32); __uint(value_size, 127 * sizeof(u64)); } stack_traces SEC(".maps");'
)


def _post_stmt(p: HookPlan) -> str:
    """Send the event now, or keep it for the return probe to finish."""
    if p.ret:
        return (
            "if (!bpf_map_lookup_elem(&retprobe_map, &id)) ret_pending(1);"
            " bpf_map_update_elem(&retprobe_map, &id, m, BPF_ANY);"
        )
    return f"emit(m, {p.hook_id}, MSG_SIZE({p.nslots}));"


def rate_limit_ns(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", str(text))
    if not m:
        raise PolicyError(f"rateLimit: {text!r} is not like 10s, 1m, 2h")
    mult = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    return int(m.group(1)) * mult * 1_000_000_000


def _prog_signature(p: HookPlan) -> tuple[str, str]:
    name = f"hook_{p.hook_id}"
    if p.method in ("fentry", "fmod_ret", "lsm", "tp_btf"):
        pre = "struct pt_regs *regs = (struct pt_regs *)ctx[0];" if p.syscall else ""
        return f"int {name}(u64 *ctx)", pre
    if p.method == "kprobe":
        pre = "struct pt_regs *regs = (struct pt_regs *)PT_REGS_PARM1(ctx);" if p.syscall else ""
        return f"int {name}(struct pt_regs *ctx)", pre
    if p.method == "uprobe":
        return f"int {name}(struct pt_regs *ctx)", ""
    return f"int {name}(void *ctx)", ""


#: argument types filled by one helper from the raw value cast to the C type
_CAST_FILL = {
    "file": ("file_arg", "struct file *"),
    "path": ("path_arg", "struct path *"),
    "sock": ("sock_arg", "struct sock *"),
    "cred": ("cred_arg", "const struct cred *"),
    "user_namespace": ("userns_arg", "struct user_namespace *"),
    "module": ("module_arg", "struct module *"),
    "bpf_attr": ("bpf_attr_arg", "union bpf_attr *"),
    "skb": ("skb_arg", "struct sk_buff *"),
    "sockaddr": ("sockaddr_arg", "const void *"),
    "dentry": ("dentry_arg", "struct dentry *"),
    "perf_event": ("perf_event_arg", "struct perf_event *"),
    "bpf_map": ("bpf_map_arg", "struct bpf_map *"),
    "iov_iter": ("iov_iter_arg", "struct iov_iter *"),
    "net_device": ("net_device_arg", "const struct net_device *"),
    "load_info": ("load_info_arg", "struct load_info *"),
    "dns": ("dns_arg", "struct msghdr *"),
}
#: argument types reported as the file they point to (read from the local, see "socket")
_FILE_OF = {"linux_binprm": ("struct linux_binprm", "file"), "kiocb": ("struct kiocb", "ki_filp")}


def _read_slots(p: HookPlan) -> list[str]:
    out = []
    for a in p.args:
        raw = f"m->ints[{a.pos}]"
        user = 0 if a.is_data else int(p.user_mem)  # data sources are kernel memory
        if a.read:
            out.append(a.read.format(slot=a.slot, pos=a.pos))
        elif a.type in ("string", "filename"):
            out.append(f"str_arg(m, {a.slot}, {a.pos}, (const void *){raw}, {user});")
        elif a.type in ("char_buf", "int32_arr") and a.return_copy and p.ret:
            continue  # read by the return probe, m->ints[] keeps the pointer
        elif a.type == "int32_arr":
            size = 4 * a.count
            out.append(f"buf_arg(m, {a.slot}, {a.pos}, (const void *){raw}, {size}, {user});")
        elif a.type == "char_buf":
            if a.size_arg_index:
                size = f"m->ints[{_pos_of_index(p, a.size_arg_index - 1)}]"
            else:
                size = "SLOT - 1"
            out.append(f"buf_arg(m, {a.slot}, {a.pos}, (const void *){raw}, {size}, {user});")
        elif a.type in _CAST_FILL:
            helper, ctype = _CAST_FILL[a.type]
            out.append(f"{helper}(m, {a.slot}, {a.pos}, ({ctype}){raw});")
        elif a.type == "fd":
            out.append(f"file_arg(m, {a.slot}, {a.pos}, fd_file({raw}));")
            out.append(f"m->ints[{a.pos}] = {raw};")
        elif a.type == "socket":
            # the local, not m->ints[]: BPF_CORE_READ would relocate struct pmsg too
            sk = f"BPF_CORE_READ((struct socket *)a{a.pos}, sk)"
            out.append(f"sock_arg(m, {a.slot}, {a.pos}, {sk});")
        elif a.type in _FILE_OF:
            ctype, member = _FILE_OF[a.type]
            f = f"BPF_CORE_READ(({ctype} *)a{a.pos}, {member})"
            out.append(f"file_arg(m, {a.slot}, {a.pos}, {f});")
    return out


def _pos_of_index(p: HookPlan, index: int) -> int:
    for a in p.args:
        if a.index == index:
            return a.pos
    raise PolicyError(f"{p.yaml_path}: sizeArgIndex refers to argument {index + 1}, not declared")


#: the policy filter's map and check (see appliance.policy.filter): one hash lookup of the
#: current cgroup id, first in every program of a namespaced or pod-selected policy
POLICY_FILTER_MAP = (
    "struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 32768);"
    ' __type(key, u64); __type(value, u8); } policy_filter SEC(".maps");'
)
POLICY_FILTER_CHECK = (
    "\tu64 pf_cgroup = bpf_get_current_cgroup_id();\n"
    "\tif (!bpf_map_lookup_elem(&policy_filter, &pf_cgroup))\n"
    "\t\treturn 0;"
)


def _notifies(p: HookPlan) -> bool:
    """A hook whose selectors write or clear enforcer notes needs the map even without an
    enforcer in the policy."""
    return any(
        a.action in ("NotifyEnforcer", "CleanupEnforcerNotification")
        for s in p.selectors
        for a in s.match_actions
    )


def generate(plans: list[HookPlan], policy_filter: bool = False) -> str:
    """The C source of one policy; ``policy_filter`` adds the cgroup filter to each hook."""
    nslots = max([p.nslots for p in plans] + [1])
    out = [
        "// generated from a TracingPolicy; do not edit",
        f"#define NSLOTS {nslots}",
        f"#define NHOOKS {len(plans)}",
        '#include "policy.h"',
        'char LICENSE[] SEC("license") = "GPL";',
        "",
        "struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1);"
        ' __type(key, u32); __type(value, u32); } policy_conf SEC(".maps");',
        "#define MSG_SIZE(n) (offsetof(struct pmsg, slots) + (n) * SLOT)",
        "static __always_inline void emit(struct pmsg *m, u32 hook, u64 size)",
        "{",
        "\tu32 zero = 0;",
        "\tu32 *pid = bpf_map_lookup_elem(&policy_conf, &zero);",
        "\tm->policy_id = pid ? *pid : 0;",
        "\tm->h.size = size;",
        "\tif (output(m, size) == 0) pcount(hook, PC_EMITTED); else pcount(hook, PC_LOST);",
        "}",
    ]
    if policy_filter:
        out.append(POLICY_FILTER_MAP)
    if any(p.stack_slot >= 0 for p in plans):
        out.append(STACK_MAP)
    if any(p.ret for p in plans):
        out += [
            "struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 4096);"
            ' __type(key, u64); __type(value, struct pmsg); } retprobe_map SEC(".maps");',
            # events waiting for their return: while none is, the return half leaves at once
            "struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1);"
            ' __type(key, u32); __type(value, s64); } ret_waiting SEC(".maps");',
            "static __always_inline s64 ret_pending(s64 d)",
            "{",
            "\tu32 zero = 0;",
            "\ts64 *n = bpf_map_lookup_elem(&ret_waiting, &zero);",
            "\tif (!n)",
            "\t\treturn 1;",
            "\tif (d)",
            "\t\t__sync_fetch_and_add(n, d);",
            "\treturn *n;",
            "}",
        ]
    if any(p.ima_slot >= 0 for p in plans):
        out.append(IMA_PENDING_MAP)
    if any(p.kind == "enforcer" or _notifies(p) for p in plans):
        out.append(ENFORCER_MAP)
    for p in plans:
        if p.kind == "enforcer":
            out.append(enforcer_c(p))
            continue
        try:
            out.append(_hook_c(p, policy_filter))
            if p.ret:
                out.append(_ret_hook_c(p))
            if p.ima_slot >= 0:
                out.append(_ima_hook_c(p))
        except PolicyError as e:  # every refusal says where in the YAML
            if str(e).startswith("spec"):
                raise
            raise PolicyError(f"{p.yaml_path}: {e}") from None
    cached = [p for p in plans if p.verdict_on]
    if cached:
        out[4:4] = verdict.header(all(p.verdict_cast for p in cached))
        progs = verdict.invalidators()
        cached[0].aux_attach = progs
        out.append(verdict.invalidator_programs(progs))
    return "\n".join(out) + "\n"


def _ret_hook_c(p: HookPlan) -> str:
    """The return half: finish the stashed event with the return value and send it."""
    if p.ret_attach[0] == "tracepoint":
        sig, rexpr = f"int hook_{p.hook_id}_ret(void *ctx)", "(*(s64 *)((char *)ctx + 16))"
    elif p.ret_section.startswith("fexit/"):
        sig, rexpr = f"int hook_{p.hook_id}_ret(u64 *ctx)", f"((s64)ctx[{p.ret_nargs}])"
    else:
        sig, rexpr = f"int hook_{p.hook_id}_ret(struct pt_regs *ctx)", "((s64)PT_REGS_RC(ctx))"
    ctype = INT_ARG_ENCODING.get(p.ret_type, ("s64",))[0]
    fill = ""
    if p.ret_slot >= 0:  # RET_SLOT_TYPES: the object the return value points to
        fill = f"sock_ret(m, {p.ret_slot}, (struct sock *)m->ret);"
    for a in p.args:  # returnCopy: the buffer as the callee left it, return value bytes
        if a.return_copy:
            n = f"{4 * a.count}" if a.type == "int32_arr" else "m->ret > 0 ? (u64)m->ret : 0"
            fill += (
                f"\n\tbuf_arg(m, {a.slot}, {a.pos}, (const void *)m->ints[{a.pos}], "
                f"{n}, {int(p.user_mem)});"
            )
    if p.ret_map:
        rexpr = p.ret_map.format(r=rexpr)
    conds = []
    for si, s in enumerate(p.selectors):
        rp = f"{p.yaml_path}.selectors[{si}].matchReturnArgs"
        cs = [
            _c_int_cond(f"(({ctype})m->ret)", mr.operator,
                        _int_values(mr.values, f"{rp}[{ri}]"), f"{rp}[{ri}]")
            for ri, mr in enumerate(s.match_return_args)
        ]  # fmt: skip
        if cs:
            conds.append(f"(m->selector != {si} || ({' && '.join(cs)}))")
    keep = " && ".join(conds) if conds else "1"
    acts = _return_actions_code(p)
    return f"""
SEC("{p.ret_section}")
{sig}
{{
	if (ret_pending(0) <= 0)
		return 0;
	u64 id = bpf_get_current_pid_tgid();
	struct pmsg *m = bpf_map_lookup_elem(&retprobe_map, &id);
	if (!m)
		return 0;
	m->ret = {rexpr};
	{fill}
	if ({keep}) {{
		int post = m->action != {ACTION_NUM["NoPost"]};
{acts}
		if (post)
			emit(m, {p.hook_id}, MSG_SIZE({p.nslots}));
	}}
	if (bpf_map_delete_elem(&retprobe_map, &id) == 0)
		ret_pending(-1);
	return 0;
}}
"""


def _return_actions_code(p: HookPlan) -> str:
    """C for each selector's matchReturnActions, run in the return half once the
    selector's matchReturnArgs passed (``post``: whether the event is sent)."""
    out = []
    for si, s in enumerate(p.selectors):
        acts = list(getattr(s, "match_return_actions", None) or [])
        if not acts:
            continue
        lines = []
        for a in acts:  # Post, NoPost, Sigkill, Signal (support.RETURN_ACTIONS)
            if a.action == "NoPost":
                lines.append("post = 0;")
            elif a.action in ("Sigkill", "Signal"):
                sig = 9 if a.action == "Sigkill" else int(a.arg_sig or 0)
                lines.append(f"bpf_send_signal({sig});")
                lines.append(f"pcount({p.hook_id}, PC_ACTIONS);")
                lines.append(f"if (post) m->action = {ACTION_NUM[a.action]};")
            elif a.rate_limit:  # Post
                key = (p.hook_id << 8) | 0x80 | si
                scope = int((a.rate_limit_scope or "thread") != "global")
                lines.append(
                    f"if (post && rate_limited(m, {key}, {rate_limit_ns(a.rate_limit)}ULL, "
                    f"{scope})) {{ pcount({p.hook_id}, PC_RATE_LIMITED); post = 0; }}"
                )
        body = "\n\t\t\t".join(lines)
        out.append(f"\t\tif (m->selector == {si}) {{\n\t\t\t{body}\n\t\t}}")
    return "\n".join(out)


def _hook_c(p: HookPlan, policy_filter: bool = False) -> str:
    p.helpers = []
    p.value_maps = {}
    sig, pre = _prog_signature(p)
    sels = p.selectors or [None]
    cheap_all, late_all = [], []
    for si, s in enumerate(sels):
        if s is None:
            cheap_all.append([])
            late_all.append([])
            continue
        c, late = _selector_conds(p, s, f"{p.yaml_path}.selectors[{si}]")
        cheap_all.append(c)
        late_all.append(late)
    conds_text = " ".join(" ".join(c) for c in cheap_all)
    body = [POLICY_FILTER_CHECK] if policy_filter else []
    if pre:
        body.append("\t" + pre)
    # arguments into locals first: the cheap conditions run before any map lookup
    for a in p.args:
        fetch = _arg_fetch(p, a)
        if a.resolve_c:  # resolve: the member the path ends at
            fetch = a.resolve_c.replace("{raw}", fetch)
        body.append(f"\tu64 a{a.pos} = {fetch};")
        if a.type in INT_ARG_ENCODING and INT_ARG_ENCODING[a.type][0] in ("s32", "s8", "s16"):
            body.append(f"\ta{a.pos} = (s64)({INT_ARG_ENCODING[a.type][0]})a{a.pos};")
    early_id = "tgid" in conds_text
    if early_id:
        body.append("\tu64 id = bpf_get_current_pid_tgid();")
        body.append("\tu32 tgid = id >> 32;")
    if "task" in conds_text:
        body.append("\tstruct task_struct *task = (void *)bpf_get_current_task();")
    for si, c in enumerate(cheap_all):
        body.append(f"\tint c{si} = {' && '.join(c) if c else '1'};")
    body.append(f"\tif (!({' || '.join(f'c{i}' for i in range(len(sels)))}))")
    body.append("\t\treturn 0;")
    # the per-file verdict cache: a file argument read from an fd is the only captured
    # one and every selector tests it (appliance.policy.verdict)
    fv = p.verdict_on = verdict.usable(p) and all(late_all)
    if fv:  # a file no selector's path condition matches leaves here (file_verdict.h)
        body.append("\tstruct fv_ent fv = {};")
        body.append(f"\tif (fv_unselected({p.verdict_fd}, {p.hook_id}, &fv))")
        body.append("\t\treturn 0;")
    if not early_id:  # only now that a selector may match
        body.append("\tu64 id = bpf_get_current_pid_tgid();")
        body.append("\tu32 tgid = id >> 32;")
    body += [
        "\tu32 zero = 0;",
        "\tstruct pmsg *m = bpf_map_lookup_elem(&pmsg_scratch, &zero);",
        "\tif (!m)",
        "\t\treturn 0;",
    ]
    for a in p.args:
        body.append(f"\tm->ints[{a.pos}] = a{a.pos};")
    for a in p.args:
        body.append(f"\tm->lens[{a.pos}] = 0;")
        body.append(f"\tm->aflags[{a.pos}] = 0;")
    body += ["\t" + line for line in _read_slots(p)]
    body.append("\tm->h.type = MSG_POLICY;")
    body.append("\tm->h.flags = 0;")
    body.append("\tm->h.pid = tgid;")
    body.append("\tm->h.tid = (u32)id;")
    body.append("\tm->h.ktime = bpf_ktime_get_ns();")
    body.append(f"\tm->hook_id = {p.hook_id};")
    if p.all_syscalls:
        body.append("\tm->ret = *(s64 *)((char *)ctx + 8); /* the syscall number */")
    else:
        body.append("\tm->ret = 0;")
    if p.stack_slot >= 0:
        body.append(f"\t((s32 *)m->slots[{p.stack_slot}])[0] = -1;")
        body.append(f"\t((s32 *)m->slots[{p.stack_slot}])[1] = -1;")
    ret_default = "0"
    if fv:  # every selector's path verdict, whatever the cheap conditions say
        for si in range(len(sels)):
            body.append(f"\tint l{si} = {' && '.join(late_all[si]) or '1'};")
    for si, s in enumerate(sels):
        late = [f"l{si}"] if fv else late_all[si]
        cond = " && ".join([f"c{si}"] + p.gates + late)
        code, override = _actions_code(p, si, s) if s is not None else _default_post(p)
        body.append(f"\tif ({cond}) {{")
        body.append(f"\t\tpcount({p.hook_id}, PC_MATCHED);")
        body.append("\t\t" + code)
        body.append(f"\t\treturn {override if p.method in ('fmod_ret', 'lsm') else 0};")
        body.append("\t}")
    if fv:
        body.append(f"\tif (!({' || '.join(f'l{i}' for i in range(len(sels)))}))")
        body.append(f"\t\tfv_remember({p.verdict_fd}, &fv);")
    body.append(f"\treturn {ret_default};")
    helpers = "".join(p.helpers)
    return f'{helpers}\nSEC("{p.section}")\n{sig}\n{{\n' + "\n".join(body) + "\n}\n"


def _default_post(p: HookPlan) -> tuple[str, int]:
    return (
        f"m->action = 1;\n\t\tm->selector = 0;\n\t\t{{ {_post_stmt(p)} }}",
        0,
    )
