"""TracingPolicy -> specialised BPF C.

Each hook of a policy becomes one BPF program whose selectors are inlined as
plain comparisons: a selector that never matches costs a few instructions,
not an interpreter loop. Cheap conditions (integer arguments, pids,
binaries, namespaces, capabilities) are tested before any string or path is
read, so a non-matching call returns early.

The planner (plan_policy) picks the attach method per hook from the kernel's
features (DESIGN.md decision 3) and refuses what cannot be enforced
(decision 4); generate() turns the plans into one C file.
"""

from __future__ import annotations

import ipaddress
import os
import platform
import re
from dataclasses import dataclass, field

from appliance.policy.constants import ADDRESS_FAMILIES, CAPABILITIES

INT_TYPES = {
    "int": ("s32", "int_arg"),
    "sint32": ("s32", "int_arg"),
    "int32": ("s32", "int_arg"),
    "sint8": ("s8", "int_arg"),
    "int8": ("s8", "int_arg"),
    "sint16": ("s16", "int_arg"),
    "int16": ("s16", "int_arg"),
    "uint8": ("u8", "uint_arg"),
    "uint16": ("u16", "uint_arg"),
    "uint32": ("u32", "uint_arg"),
    "long": ("s64", "long_arg"),
    "sint64": ("s64", "long_arg"),
    "int64": ("s64", "long_arg"),
    "ulong": ("u64", "size_arg"),
    "uint64": ("u64", "size_arg"),
    "size_t": ("u64", "size_arg"),
    "capability": ("s32", "capability_arg"),
    "syscall64": ("u64", "syscall64"),
    "bpf_cmd": ("s32", "bpf_cmd_arg"),
    "nop": ("u64", None),
}
SLOT_TYPES = {"string", "char_buf", "file", "path", "fd", "sock", "filename", "cred",
              "user_namespace", "module", "bpf_attr", "skb", "linux_binprm", "kiocb",
              "socket"}  # fmt: skip
# pointers into kernel memory: only on kernel functions (not on syscall arguments)
KERNEL_PTR_TYPES = {"file", "path", "sock", "cred", "user_namespace", "module", "bpf_attr",
                    "skb", "linux_binprm", "kiocb", "socket"}  # fmt: skip
# types whose selectors compare a path string
PATH_TYPES = {"string", "char_buf", "file", "path", "fd", "filename", "linux_binprm", "kiocb"}
SUPPORTED_TYPES = set(INT_TYPES) | SLOT_TYPES
STRING_OPS = {"Equal", "NotEqual", "Prefix", "NotPrefix", "Postfix", "NotPostfix"}
INT_OPS = {"Equal", "NotEqual", "GT", "LT", "Mask"}
SOCK_OPS = {
    "SPort", "NotSPort", "SPortPriv", "NotSPortPriv", "DPort", "NotDPort", "DPortPriv",
    "NotDPortPriv", "SAddr", "NotSAddr", "DAddr", "NotDAddr", "Protocol", "Family", "State",
}  # fmt: skip
POSTFIX_MAX = 256
SLOT_STR_MAX = 1023

ACTION_NUM = {
    "Post": 1, "FollowFD": 2, "Sigkill": 3, "UnfollowFD": 4, "Override": 5, "CopyFD": 6,
    "GetUrl": 7, "DnsLookup": 8, "NoPost": 9, "Signal": 10, "TrackSock": 11,
    "UntrackSock": 12,
}  # fmt: skip
ACTION_ENUM = {
    1: "KPROBE_ACTION_POST", 2: "KPROBE_ACTION_FOLLOWFD", 3: "KPROBE_ACTION_SIGKILL",
    4: "KPROBE_ACTION_UNFOLLOWFD", 5: "KPROBE_ACTION_OVERRIDE", 6: "KPROBE_ACTION_COPYFD",
    7: "KPROBE_ACTION_GETURL", 8: "KPROBE_ACTION_DNSLOOKUP", 9: "KPROBE_ACTION_NOPOST",
    10: "KPROBE_ACTION_SIGNAL", 11: "KPROBE_ACTION_TRACKSOCK", 12: "KPROBE_ACTION_UNTRACKSOCK",
}  # fmt: skip
# actions with an effect in the kernel or in the agent; the rest need nothing more than
# the event (FollowFD & co: fd arguments are resolved through the fd table directly)
SUPPORTED_ACTIONS = set(ACTION_NUM)
TCP_STATES = {
    "TCP_ESTABLISHED": 1, "TCP_SYN_SENT": 2, "TCP_SYN_RECV": 3, "TCP_FIN_WAIT1": 4,
    "TCP_FIN_WAIT2": 5, "TCP_TIME_WAIT": 6, "TCP_CLOSE": 7, "TCP_CLOSE_WAIT": 8,
    "TCP_LAST_ACK": 9, "TCP_LISTEN": 10, "TCP_CLOSING": 11, "TCP_NEW_SYN_RECV": 12,
}  # fmt: skip
PROTOCOLS = {"IPPROTO_IP": 0, "IPPROTO_ICMP": 1, "IPPROTO_TCP": 6, "IPPROTO_UDP": 17,
             "IPPROTO_IPV6": 41, "IPPROTO_ICMPV6": 58, "IPPROTO_RAW": 255}  # fmt: skip
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


class PolicyError(Exception):
    """A policy that cannot be loaded as asked; the message says where and why."""


class AllFeatures:
    """A kernel with every hook and action: planning against it tells what the engine
    itself cannot do, whatever the kernel."""

    kprobes = fentry = fmod_ret = override_return = lsm_active = lsm_prog = True
    send_signal = ring_buffer = True


@dataclass
class ArgPlan:
    pos: int  # position in the event's args list
    index: int  # argument index of the hooked function (or tracepoint field index)
    type: str
    label: str = ""
    size_arg_index: int = 0
    slot: int = -1
    tp_offset: int = 0
    tp_size: int = 8
    tp_signed: bool = False


@dataclass
class HookPlan:
    hook_id: int
    kind: str  # kprobe | tracepoint | uprobe
    function_name: str  # reported in events
    method: str  # fentry | fmod_ret | kprobe | tracepoint | uprobe
    section: str
    attach: tuple[str, str]  # (libbpf attach method, target)
    syscall: bool
    user_mem: bool  # arguments point to user memory
    args: list[ArgPlan]
    selectors: list
    yaml_path: str
    subsys: str = ""
    event: str = ""
    path: str = ""
    symbol: str = ""
    message: str = ""
    tags: list[str] = field(default_factory=list)
    nslots: int = 0
    spec: object = None  # the policy's hook entry (KProbeSpec, TracepointSpec, ...)
    helpers: list[str] = field(default_factory=list)  # C functions the selectors call
    all_syscalls: bool = False  # one raw_syscalls/sys_enter program for every syscall
    ret: bool = False  # report the return value (entry stashed, event sent at return)
    ret_type: str = "int"
    ret_section: str = ""
    ret_attach: tuple[str, str] = ("auto", "")
    ret_nargs: int = 0  # fexit: the return value follows the function's arguments
    return_action: str = ""
    actions: set[str] = field(default_factory=set)
    userspace_actions: dict[int, list] = field(default_factory=dict)  # selector -> actions

    @property
    def name(self) -> str:
        return self.function_name or f"{self.subsys}/{self.event}" or self.symbol


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


def tracefs_root() -> str:
    for d in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        if os.path.isdir(os.path.join(d, "events")):
            return d
    return "/sys/kernel/tracing"


def tracepoint_format(subsys: str, event: str) -> list[tuple[str, int, int, bool]] | None:
    """(name, offset, size, signed) of each field of a tracepoint, common fields included."""
    path = os.path.join(tracefs_root(), "events", subsys, event, "format")
    try:
        text = open(path).read()
    except OSError:
        return None
    out = []
    rx = re.compile(r"field:(.*?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);")
    for m in rx.finditer(text):
        decl = m.group(1).strip()
        name = re.split(r"[\s*]", decl.split("[")[0])[-1]
        out.append((name, int(m.group(2)), int(m.group(3)), m.group(4) == "1"))
    return out


# ---------------------------------------------------------------------------------------
# planning


def plan_policy(policy, features, offline: bool = False) -> list[HookPlan]:
    """Decide the hooks and attach methods; raise PolicyError for what cannot be done.

    offline: plan without this machine's kernel (tracefs, binaries), to tell whether the
    engine supports a policy at all (`tetra tracingpolicy validate`).
    """
    spec = policy.spec
    plans: list[HookPlan] = []
    lists = {lst.name: lst for lst in spec.lists}
    if getattr(spec, "usdts", None):
        raise PolicyError("spec.usdts: USDT probes are not supported yet")
    if spec.killers:
        raise PolicyError("spec.killers: killers (NotifyEnforcer) are not supported yet")
    if getattr(spec, "enforcers", None):
        raise PolicyError("spec.enforcers: enforcers are not supported yet")

    for i, kp in enumerate(spec.kprobes):
        ypath = f"spec.kprobes[{i}]"
        calls = [kp.call]
        syscall = kp.syscall
        if kp.call.startswith("list:"):
            lname = kp.call[5:]
            lst = lists.get(lname)
            if lst is None:
                raise PolicyError(f"{ypath}.call: list {lname!r} is not defined in spec.lists")
            calls = list(lst.values)
            if lst.type in ("syscalls", "generated_syscalls"):
                syscall = True
            if lst.type == "generated_syscalls" and not calls:
                plans.append(_plan_all_syscalls(len(plans), kp, ypath))
                plans[-1].spec = kp
                continue
            if lst.pattern and not calls:
                raise PolicyError(f"{ypath}.call: list patterns are not supported yet")
        for call in calls:
            plans.append(_plan_kprobe(len(plans), kp, call, syscall, ypath, features))
            plans[-1].spec = kp
    for i, fe in enumerate(getattr(spec, "fentries", []) or []):
        plans.append(_plan_fentry(len(plans), fe, f"spec.fentries[{i}]", features, offline))
        plans[-1].spec = fe
    for i, lh in enumerate(spec.lsmhooks):
        plans.append(_plan_lsm(len(plans), lh, f"spec.lsmhooks[{i}]", features))
        plans[-1].spec = lh
    for i, tp in enumerate(spec.tracepoints):
        plans.append(_plan_tracepoint(len(plans), tp, f"spec.tracepoints[{i}]", offline))
        plans[-1].spec = tp
    for i, up in enumerate(spec.uprobes):
        symbols = list(up.symbols) + ([up.symbol] if up.symbol else [])
        if up.offsets or up.addrs or up.ref_ctr_offsets:
            raise PolicyError(f"spec.uprobes[{i}]: uprobes by offset/address not supported yet")
        if not symbols:
            raise PolicyError(f"spec.uprobes[{i}].symbols: at least one symbol is needed")
        for sym in symbols:
            plans.append(_plan_uprobe(len(plans), up, sym, f"spec.uprobes[{i}]", offline))
            plans[-1].spec = up
    if not plans:
        raise PolicyError("spec: the policy has no kprobes, tracepoints or uprobes")
    for p in plans:
        _check_selectors(p)
    return plans


def _plan_args(args, ypath: str, user_mem: bool) -> tuple[list[ArgPlan], int]:
    out, slot = [], 0
    for j, a in enumerate(args):
        t = a.type
        if t == "auto":
            raise PolicyError(f"{ypath}.args[{j}].type: 'auto' needs BTF argument resolution")
        if t not in SUPPORTED_TYPES:
            raise PolicyError(
                f"{ypath}.args[{j}].type: argument type {t!r} is not supported yet "
                f"(supported: {', '.join(sorted(SUPPORTED_TYPES))})"
            )
        if getattr(a, "return_copy", False):
            raise PolicyError(f"{ypath}.args[{j}].returnCopy: not supported yet")
        if getattr(a, "resolve", ""):
            raise PolicyError(f"{ypath}.args[{j}].resolve: not supported yet")
        if t in KERNEL_PTR_TYPES and user_mem:
            raise PolicyError(
                f"{ypath}.args[{j}].type: {t!r} is a kernel pointer; a syscall argument "
                "is a user pointer or a number (use string, char_buf, fd or an int type)"
            )
        ap = ArgPlan(j, a.index, t, a.label, a.size_arg_index)
        if t in SLOT_TYPES:
            ap.slot = slot
            slot += 1
        out.append(ap)
    if len(out) > 6:
        raise PolicyError(f"{ypath}.args: at most 6 arguments per hook")
    return out, slot


def _plan_kprobe(hid: int, kp, call: str, syscall: bool, ypath: str, f) -> HookPlan:
    if kp.return_ or kp.return_arg is not None:
        return _plan_kprobe_return(hid, kp, call, syscall, ypath, f)
    if kp.data:
        raise PolicyError(f"{ypath}.data: not supported yet")
    wants_override = any(act.action == "Override" for s in kp.selectors for act in s.match_actions)
    if syscall:
        base = syscall_base(call)
        fn = arch_prefix() + "sys_" + base
        if f.fentry and not wants_override:
            method, section, attach = "fentry", f"fentry/{fn}", ("auto", "")
        elif f.kprobes and (not wants_override or f.override_return):
            method, section, attach = "kprobe", f"kprobe/{fn}", ("auto", "")
        elif wants_override and f.fmod_ret and False:
            method = "fmod_ret"  # syscall wrappers are not error-injectable via fmod_ret
        else:
            if wants_override:
                raise PolicyError(
                    f"{ypath}: Override on {fn} needs bpf_override_return (kprobes with "
                    "CONFIG_BPF_KPROBE_OVERRIDE), which this kernel lacks; the policy is "
                    "refused rather than loaded without enforcement"
                )
            if tracepoint_format("syscalls", f"sys_enter_{base}") is None:
                raise PolicyError(
                    f"{ypath}.call: no syscall {base!r} on this kernel "
                    f"(no tracepoint syscalls/sys_enter_{base} and no kprobes)"
                )
            method = "tracepoint"
            section = f"tracepoint/syscalls/sys_enter_{base}"
            attach = ("tracepoint", f"syscalls/sys_enter_{base}")
        args, nslots = _plan_args(kp.args, ypath, user_mem=True)
    else:
        fn = call
        if wants_override:
            if fn.startswith("security_") and f.fmod_ret:
                method, section, attach = "fmod_ret", f"fmod_ret/{fn}", ("auto", "")
            elif fn.startswith("security_") and f.lsm_active and f.lsm_prog:
                method, section, attach = "lsm", f"lsm/{fn[len('security_') :]}", ("auto", "")
            elif f.kprobes and f.override_return:
                method, section, attach = "kprobe", f"kprobe/{fn}", ("auto", "")
            else:
                raise PolicyError(
                    f"{ypath}: Override on {fn} needs fmod_ret on a security_* function "
                    "(BPF trampolines) or bpf_override_return (kprobes with error "
                    "injection); this kernel has neither, so the policy is refused"
                )
        elif f.fentry:
            method, section, attach = "fentry", f"fentry/{fn}", ("auto", "")
        elif f.kprobes:
            method, section, attach = "kprobe", f"kprobe/{fn}", ("auto", "")
        else:
            raise PolicyError(
                f"{ypath}.call: {fn} is not a syscall; hooking it needs kprobes or BPF "
                "trampolines (fentry), and this kernel has neither (CONFIG_KPROBES unset, "
                "fentry programs fail to load)"
            )
        args, nslots = _plan_args(kp.args, ypath, user_mem=False)
    return HookPlan(
        hid, "kprobe", fn, method, section, attach, syscall, syscall, args, kp.selectors,
        ypath, message=kp.message, tags=list(kp.tags), nslots=nslots,
    )  # fmt: skip


def _plan_all_syscalls(hid: int, kp, ypath: str) -> HookPlan:
    """Every syscall: one program on raw_syscalls/sys_enter (cheaper than hundreds of
    hooks); the event names the syscall from its number."""
    if kp.return_ or kp.return_arg is not None:
        raise PolicyError(f"{ypath}.return: return values of all syscalls are not supported")
    args, nslots = _plan_args(kp.args, ypath, user_mem=True)
    return HookPlan(
        hid, "kprobe", "", "tracepoint", "tracepoint/raw_syscalls/sys_enter",
        ("tracepoint", "raw_syscalls/sys_enter"), True, True, args, kp.selectors, ypath,
        message=kp.message, tags=list(kp.tags), nslots=nslots, all_syscalls=True,
    )  # fmt: skip


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


def _plan_kprobe_return(hid: int, kp, call: str, syscall: bool, ypath: str, f) -> HookPlan:
    """A hook whose event carries the return value: kprobe + kretprobe where kprobes
    exist, else (syscalls) the sys_enter/sys_exit tracepoint pair."""
    if kp.data:
        raise PolicyError(f"{ypath}.data: not supported yet")
    if any(act.action == "Override" for s in kp.selectors for act in s.match_actions):
        raise PolicyError(f"{ypath}: Override together with return is not supported yet")
    ret_type = kp.return_arg.type if kp.return_arg is not None else "int"
    if ret_type not in INT_TYPES:
        raise PolicyError(f"{ypath}.returnArg.type: {ret_type!r} return values not supported")
    if syscall:
        base = syscall_base(call)
        fn = arch_prefix() + "sys_" + base
        if f.kprobes:
            method, section, attach = "kprobe", f"kprobe/{fn}", ("auto", "")
            ret_section, ret_attach = f"kretprobe/{fn}", ("auto", "")
        else:
            if tracepoint_format("syscalls", f"sys_enter_{base}") is None:
                raise PolicyError(
                    f"{ypath}.call: no syscall {base!r} on this kernel "
                    f"(no tracepoint syscalls/sys_enter_{base} and no kprobes)"
                )
            method = "tracepoint"
            section = f"tracepoint/syscalls/sys_enter_{base}"
            attach = ("tracepoint", f"syscalls/sys_enter_{base}")
            ret_section = f"tracepoint/syscalls/sys_exit_{base}"
            ret_attach = ("tracepoint", f"syscalls/sys_exit_{base}")
        args, nslots = _plan_args(kp.args, ypath, user_mem=True)
    else:
        fn = call
        if not f.kprobes:
            raise PolicyError(
                f"{ypath}.return: the return value of {fn} needs kretprobes, and this kernel "
                "has no kprobes (CONFIG_KPROBES unset)"
            )
        method, section, attach = "kprobe", f"kprobe/{fn}", ("auto", "")
        ret_section, ret_attach = f"kretprobe/{fn}", ("auto", "")
        args, nslots = _plan_args(kp.args, ypath, user_mem=False)
    act = kp.return_arg_action or ""
    return HookPlan(
        hid, "kprobe", fn, method, section, attach, syscall, syscall, args, kp.selectors,
        ypath, message=kp.message, tags=list(kp.tags), nslots=nslots, ret=True,
        ret_type=ret_type, ret_section=ret_section, ret_attach=ret_attach, return_action=act,
    )  # fmt: skip


def _plan_fentry(hid: int, fe, ypath: str, f, offline: bool) -> HookPlan:
    """`fentries`: BPF trampolines only (fentry, fexit for the return value)."""
    if not f.fentry:
        raise PolicyError(
            f"{ypath}.call: fentries need BPF trampolines, which this kernel does not load "
            "(use kprobes instead)"
        )
    if fe.data:
        raise PolicyError(f"{ypath}.data: not supported yet")
    if any(act.action == "Override" for s in fe.selectors for act in s.match_actions):
        raise PolicyError(f"{ypath}: Override on fentries is not supported; use fmod_ret")
    fn = arch_prefix() + "sys_" + syscall_base(fe.call) if fe.syscall else fe.call
    args, nslots = _plan_args(fe.args, ypath, user_mem=fe.syscall)
    plan = HookPlan(
        hid, "kprobe", fn, "fentry", f"fentry/{fn}", ("auto", ""), fe.syscall, fe.syscall,
        args, fe.selectors, ypath, message=fe.message, tags=list(fe.tags), nslots=nslots,
    )  # fmt: skip
    if fe.return_ or fe.return_arg is not None:
        from appliance.bpf.libbpf import function_arg_count

        nargs = function_arg_count(getattr(f, "btf", "") or "/sys/kernel/btf/vmlinux", fn)
        if nargs is None:
            if not offline:
                raise PolicyError(f"{ypath}.call: {fn} is not in the kernel's BTF")
            nargs = len(fe.args)
        plan.ret = True
        plan.ret_type = fe.return_arg.type if fe.return_arg is not None else "int"
        if plan.ret_type not in INT_TYPES:
            raise PolicyError(f"{ypath}.returnArg.type: {plan.ret_type!r} not supported")
        plan.ret_section = f"fexit/{fn}"
        plan.ret_attach = ("auto", "")
        plan.ret_nargs = nargs
        plan.return_action = fe.return_arg_action or ""
    return plan


def _plan_lsm(hid: int, lh, ypath: str, f) -> HookPlan:
    """A BPF LSM program: observes and, with Override, denies (returns argError)."""
    hook = lh.hook[len("security_") :] if lh.hook.startswith("security_") else lh.hook
    if not (f.lsm_active and f.lsm_prog):
        why = "the bpf LSM is not active (boot with lsm=...,bpf)" if f.lsm_prog or not \
            f.lsm_active else "BPF LSM programs do not load on this kernel"  # fmt: skip
        raise PolicyError(f"{ypath}.hook: {hook} needs BPF LSM, and {why}")
    args, nslots = _plan_args(lh.args, ypath, user_mem=False)
    return HookPlan(
        hid, "lsm", hook, "lsm", f"lsm/{hook}", ("auto", ""), False, False, args,
        lh.selectors, ypath, message=lh.message, tags=list(lh.tags), nslots=nslots,
    )  # fmt: skip


def _plan_tracepoint(hid: int, tp, ypath: str, offline: bool = False) -> HookPlan:
    if tp.raw:
        raise PolicyError(f"{ypath}.raw: raw tracepoints are not supported yet")
    fmt = tracepoint_format(tp.subsystem, tp.event)
    if fmt is None and offline:
        fmt = [("", 0, 8, False)] * 64  # field layout is only known on the target kernel
    if fmt is None:
        raise PolicyError(f"{ypath}: no tracepoint {tp.subsystem}/{tp.event} on this kernel")
    args, nslots = _plan_args(tp.args, ypath, user_mem=True)
    for a in args:
        if a.index >= len(fmt):
            raise PolicyError(
                f"{ypath}.args[{a.pos}].index: {tp.subsystem}/{tp.event} has {len(fmt)} fields"
            )
        _name, a.tp_offset, a.tp_size, a.tp_signed = fmt[a.index]
        if a.type in ("file", "path", "sock"):
            raise PolicyError(f"{ypath}.args[{a.pos}].type: {a.type!r} not supported here")
    return HookPlan(
        hid, "tracepoint", "", "tracepoint", f"tracepoint/{tp.subsystem}/{tp.event}",
        ("tracepoint", f"{tp.subsystem}/{tp.event}"), False, True, args, tp.selectors, ypath,
        subsys=tp.subsystem, event=tp.event, message=tp.message, tags=list(tp.tags),
        nslots=nslots,
    )  # fmt: skip


def _plan_uprobe(hid: int, up, sym: str, ypath: str, offline: bool = False) -> HookPlan:
    if up.return_:
        raise PolicyError(f"{ypath}.return: return uprobes are not supported yet")
    if offline and not os.path.exists(up.path):
        off = 0  # the binary is on the target machine
    elif not os.path.exists(up.path):
        raise PolicyError(f"{ypath}.path: {up.path} does not exist")
    else:
        off = elf_symbol_offset(up.path, sym)
    if off is None:
        raise PolicyError(f"{ypath}.symbols: no symbol {sym!r} in {up.path}")
    args, nslots = _plan_args(up.args, ypath, user_mem=True)
    return HookPlan(
        hid, "uprobe", "", "uprobe", "uprobe", ("uprobe", f"{up.path}:{off}"), False, True,
        args, up.selectors, ypath, path=up.path, symbol=sym, message=up.message,
        tags=list(up.tags), nslots=nslots,
    )  # fmt: skip


def _check_selectors(p: HookPlan) -> None:
    for si, s in enumerate(p.selectors):
        sp = f"{p.yaml_path}.selectors[{si}]"
        unsupported = (
            "match_namespace_changes",
            "match_capability_changes",
            "match_data",
            "match_return_actions",
            "match_parent_binaries",
        )
        if s.match_return_args and not p.ret:
            raise PolicyError(f"{sp}.matchReturnArgs: needs `return: true` on the hook")
        for ri, mr in enumerate(s.match_return_args):
            if mr.operator not in INT_OPS:
                raise PolicyError(
                    f"{sp}.matchReturnArgs[{ri}].operator: {mr.operator} is not supported "
                    "on return values in this engine"
                )
        for name in unsupported:
            if getattr(s, name, None):
                raise PolicyError(f"{sp}.{_camel(name)}: not supported yet")
        for mi, ma in enumerate(s.match_args):
            for a in _targets(p, ma, f"{sp}.matchArgs[{mi}]"):
                _check_op(a, ma, f"{sp}.matchArgs[{mi}]")
        for ai, act in enumerate(s.match_actions):
            if act.action not in SUPPORTED_ACTIONS:
                raise PolicyError(
                    f"{sp}.matchActions[{ai}].action: {act.action} is not supported yet"
                )
            if act.action == "Override" and p.method not in ("fmod_ret", "kprobe", "lsm"):
                raise PolicyError(f"{sp}.matchActions[{ai}]: Override is not possible here")
            if act.kernel_stack_trace or act.user_stack_trace or act.ima_hash:
                raise PolicyError(
                    f"{sp}.matchActions[{ai}]: stack traces and IMA hashes are not supported yet"
                )
            p.actions.add(act.action)


def _targets(p: HookPlan, ma, path: str) -> list[ArgPlan]:
    """The declared arguments a matchArgs entry refers to (Tetragon's rules: `args` are
    positions in the args list, `index` matches an argument's index)."""
    from appliance.policy.model import resolve_arg_selector

    if p.spec is None:
        by_index = {a.index: a for a in p.args}
        idxs = [ma.index] if ma.index is not None else list(ma.args)
        if any(i not in by_index for i in idxs):
            raise PolicyError(f"{path}.index: no argument with index {idxs} is declared")
        return [by_index[i] for i in idxs]
    res = resolve_arg_selector(p.spec, ma, "matchArgs")
    if res.error:
        raise PolicyError(f"{path}: {res.error}")
    return [p.args[pos] for pos, _arg in res.targets]


def _check_op(a: ArgPlan, ma, path: str) -> None:
    op = ma.operator
    if a.type in PATH_TYPES:
        ok = op in STRING_OPS or (a.type == "fd" and op in INT_OPS)
    elif a.type in ("sock", "socket"):
        ok = op in SOCK_OPS
    elif a.type in SLOT_TYPES:
        ok = False
    else:
        ok = op in INT_OPS
    if not ok:
        raise PolicyError(
            f"{path}.operator: {op} is not supported on a {a.type!r} argument in this engine"
        )
    if a.type in SLOT_TYPES and op in ("Postfix", "NotPostfix"):
        for v in ma.values:
            if len(v.encode()) > POSTFIX_MAX:
                raise PolicyError(f"{path}.values: Postfix values longer than 256 bytes")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


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


# ---------------------------------------------------------------------------------------
# C generation


def _c_str_cond(
    p: str, lenexpr: str, op: str, values: list[str], path: str = "", limit: int = SLOT_STR_MAX - 1
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
        else:  # Postfix
            q = f"(&{p}[bound511({lenexpr} - {n})])"
            parts = [f"{lenexpr} >= {n}"] + [f"{q}[{i}] == {c}" for i, c in enumerate(b)]
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


def _c_int_cond(expr: str, op: str, values: list[int]) -> str:
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
    raise PolicyError(f"operator {op} not supported on integers")


def _c_sock_cond(si: str, op: str, values: list[str], path: str) -> str:
    neg = op.startswith("Not")
    base = op[3:] if neg else op
    conds = []
    if base in ("SPort", "DPort"):
        fld = "sport" if base == "SPort" else "dport"
        for v in values:
            if "-" in str(v):
                lo, hi = (int(x) for x in str(v).split("-", 1))
                conds.append(f"({si}->{fld} >= {lo} && {si}->{fld} <= {hi})")
            else:
                conds.append(f"({si}->{fld} == {int(v)})")
    elif base in ("SPortPriv", "DPortPriv"):
        fld = "sport" if base == "SPortPriv" else "dport"
        conds.append(f"({si}->{fld} < 1024)")
    elif base in ("SAddr", "DAddr"):
        fld = "saddr" if base == "SAddr" else "daddr"
        for v in values:
            try:
                net = ipaddress.ip_network(str(v), strict=False)
            except ValueError:
                raise PolicyError(f"{path}.values: {v!r} is not an address or CIDR") from None
            if net.version != 4:
                raise PolicyError(f"{path}.values: IPv6 addresses are not supported yet")
            mask = int(net.netmask)
            conds.append(
                f"((__builtin_bswap32({si}->{fld}) & {mask}U) == {int(net.network_address)}U)"
            )
    elif base == "Protocol":
        for v in values:
            n = PROTOCOLS.get(str(v), None)
            conds.append(f"({si}->protocol == {n if n is not None else int(v)})")
    elif base == "Family":
        for v in values:
            n = ADDRESS_FAMILIES.get(str(v), None)
            conds.append(f"({si}->family == {n if n is not None else int(v)})")
    elif base == "State":
        for v in values:
            n = TCP_STATES.get(str(v), None)
            conds.append(f"({si}->state == {n if n is not None else int(v)})")
    any_ = "(" + " || ".join(conds) + ")" if conds else "0"
    return f"(!{any_})" if neg else any_


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
    for mb in s.match_binaries:
        fn = f"binsel_{p.hook_id}_{len(p.helpers)}"
        p.helpers.append(_bin_fn(fn, mb.operator, mb.values, mb.follow_children))
        cheap.append(f"{fn}(tgid, task)")
    for mn in s.match_namespaces:
        kind = mn.namespace
        if kind == "Pid":
            expr = "pid_ns_inum(task)"
        elif kind == "User":
            expr = "BPF_CORE_READ(task, cred, user_ns, ns.inum)"
        else:
            a, b = NS_FIELDS[kind]
            expr = f"BPF_CORE_READ(task, {a}, {b}, ns.inum)"
        vals = [_host_ns(kind) if str(v) == "host_ns" else int(v) for v in mn.values]
        cond = "(" + " || ".join(f"{expr} == {v}U" for v in vals) + ")" if vals else "0"
        cheap.append(f"(!{cond})" if mn.operator == "NotIn" else cond)
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
    for mi, ma in enumerate(s.match_args):
        path = f"{sp}.matchArgs[{mi}]"
        for a in _targets(p, ma, path):
            if a.type in ("sock", "socket"):
                late.append(_c_sock_cond(f"sock_of(m, {a.slot})", ma.operator, ma.values, path))
            elif a.type in SLOT_TYPES and ma.operator in STRING_OPS:
                late.append(
                    _c_str_cond(f"m->slots[{a.slot}]", f"m->lens[{a.pos}]", ma.operator,
                                [str(v) for v in ma.values], path)
                )  # fmt: skip
            else:
                ctype = INT_TYPES.get(a.type, ("s64", ""))[0]
                expr = f"(({ctype})a{a.pos})"
                if a.type == "fd":
                    expr = f"((s32)a{a.pos})"
                cheap.append(_c_int_cond(expr, ma.operator, _int_values(ma.values, path)))
    return cheap, late


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


def _bin_fn(fn: str, op: str, values: list[str], follow: bool) -> str:
    base = op[3:] if op.startswith("Not") else op
    sop = {"In": "Equal", "Prefix": "Prefix", "Postfix": "Postfix"}[base]
    for v in values:
        if len(v.encode()) > 255:
            raise PolicyError(f"matchBinaries value longer than 255 bytes: {v[:40]}...")
    if sop == "Postfix" and any(len(v.encode()) > 128 for v in values):
        raise PolicyError("matchBinaries Postfix values longer than 128 bytes are not supported")
    cond = _c_str_cond("e->bin", "e->bin_len", sop, values, "matchBinaries", 255).replace(
        "bound511(", "(127 & "
    )
    neg = op.startswith("Not")
    if not follow:
        return f"""
static __always_inline int {fn}(u32 tgid, struct task_struct *task)
{{
	struct exec_info *e = exec_info_of(tgid);
	if (!e)
		return {1 if neg else 0};
	return {"!" if neg else ""}{cond};
}}
"""
    return f"""
static __always_inline int {fn}(u32 tgid, struct task_struct *task)
{{
	struct task_struct *t = task;
	u32 p = tgid;
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
    if p.method == "tracepoint" and p.kind == "kprobe":
        return f"(((u64 *)((char *)ctx + 16))[{i}])"
    if p.method == "tracepoint":
        ctype = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}.get(a.tp_size, "u64")
        if a.tp_signed:
            ctype = "s" + ctype[1:]
        return f"((u64)(*({ctype} *)((char *)ctx + {a.tp_offset})))"
    if p.method in ("fentry", "fmod_ret", "lsm"):
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
    for a in acts:
        if a.action == "Sigkill":
            lines.append("bpf_send_signal(9);")
            lines.append(f"pcount({p.hook_id}, PC_ACTIONS);")
            action = 3
        elif a.action == "Signal":
            lines.append(f"bpf_send_signal({int(a.arg_sig or 0)});")
            lines.append(f"pcount({p.hook_id}, PC_ACTIONS);")
            action = 10
        elif a.action == "Override":
            override = int(a.arg_error or 0)
            if p.method == "kprobe":
                lines.append(f"bpf_override_return(ctx, {override});")
            lines.append(f"pcount({p.hook_id}, PC_ACTIONS);")
            action = 5
        elif a.action in ("GetUrl", "DnsLookup"):
            action = ACTION_NUM[a.action]
            p.userspace_actions.setdefault(si, []).append(a)
        elif a.action in ("FollowFD", "UnfollowFD", "CopyFD", "TrackSock", "UntrackSock"):
            if action == 1:
                action = ACTION_NUM[a.action]
        if a.action == "Post" and a.rate_limit:
            rl = (rate_limit_ns(a.rate_limit), (a.rate_limit_scope or "thread") != "global")
    if post:
        lines.append(f"m->action = {action};")
        lines.append(f"m->selector = {si};")
        if rl:
            lines.append(
                f"if (rate_limited(m, {(p.hook_id << 8) | si}, {rl[0]}ULL, {int(rl[1])})) "
                f"{{ pcount({p.hook_id}, PC_RATE_LIMITED); }} else"
            )
        lines.append(f"{{ {_post_stmt(p)} }}")
    return "\n\t\t".join(lines), override


def _post_stmt(p: HookPlan) -> str:
    """Send the event now, or keep it for the return probe to finish."""
    if p.ret:
        return "bpf_map_update_elem(&retprobe_map, &id, m, BPF_ANY);"
    return f"emit(m, {p.hook_id}, MSG_SIZE({p.nslots}));"


def rate_limit_ns(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", str(text))
    if not m:
        raise PolicyError(f"rateLimit: {text!r} is not like 10s, 1m, 2h")
    mult = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    return int(m.group(1)) * mult * 1_000_000_000


def _prog_signature(p: HookPlan) -> tuple[str, str]:
    name = f"hook_{p.hook_id}"
    if p.method in ("fentry", "fmod_ret", "lsm"):
        pre = "struct pt_regs *regs = (struct pt_regs *)ctx[0];" if p.syscall else ""
        return f"int {name}(u64 *ctx)", pre
    if p.method == "kprobe":
        pre = "struct pt_regs *regs = (struct pt_regs *)PT_REGS_PARM1(ctx);" if p.syscall else ""
        return f"int {name}(struct pt_regs *ctx)", pre
    if p.method == "uprobe":
        return f"int {name}(struct pt_regs *ctx)", ""
    return f"int {name}(void *ctx)", ""


def _read_slots(p: HookPlan) -> list[str]:
    out = []
    for a in p.args:
        raw = f"m->ints[{a.pos}]"
        user = int(p.user_mem)
        if a.type in ("string", "filename"):
            out.append(f"str_arg(m, {a.slot}, {a.pos}, (const void *){raw}, {user});")
        elif a.type == "char_buf":
            if a.size_arg_index:
                size = f"m->ints[{_pos_of_index(p, a.size_arg_index - 1)}]"
            else:
                size = "SLOT - 1"
            out.append(f"buf_arg(m, {a.slot}, {a.pos}, (const void *){raw}, {size}, {user});")
        elif a.type == "file":
            out.append(f"file_arg(m, {a.slot}, {a.pos}, (struct file *){raw});")
        elif a.type == "path":
            out.append(f"path_arg(m, {a.slot}, {a.pos}, (struct path *){raw});")
        elif a.type == "fd":
            out.append(f"file_arg(m, {a.slot}, {a.pos}, fd_file({raw}));")
            out.append(f"m->ints[{a.pos}] = {raw};")
        elif a.type == "sock":
            out.append(f"sock_arg(m, {a.slot}, {a.pos}, (struct sock *){raw});")
        elif a.type == "socket":
            sk = f"BPF_CORE_READ((struct socket *){raw}, sk)"
            out.append(f"sock_arg(m, {a.slot}, {a.pos}, {sk});")
        elif a.type == "cred":
            out.append(f"cred_arg(m, {a.slot}, {a.pos}, (const struct cred *){raw});")
        elif a.type == "user_namespace":
            out.append(f"userns_arg(m, {a.slot}, {a.pos}, (struct user_namespace *){raw});")
        elif a.type == "module":
            out.append(f"module_arg(m, {a.slot}, {a.pos}, (struct module *){raw});")
        elif a.type == "bpf_attr":
            out.append(f"bpf_attr_arg(m, {a.slot}, {a.pos}, (union bpf_attr *){raw});")
        elif a.type == "skb":
            out.append(f"skb_arg(m, {a.slot}, {a.pos}, (struct sk_buff *){raw});")
        elif a.type == "linux_binprm":
            f = f"BPF_CORE_READ((struct linux_binprm *){raw}, file)"
            out.append(f"file_arg(m, {a.slot}, {a.pos}, {f});")
        elif a.type == "kiocb":
            f = f"BPF_CORE_READ((struct kiocb *){raw}, ki_filp)"
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
    if any(p.ret for p in plans):
        out += [
            "struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 4096);"
            ' __type(key, u64); __type(value, struct pmsg); } retprobe_map SEC(".maps");',
        ]
    for p in plans:
        out.append(_hook_c(p, policy_filter))
        if p.ret:
            out.append(_ret_hook_c(p))
    return "\n".join(out) + "\n"


def _ret_hook_c(p: HookPlan) -> str:
    """The return half: finish the stashed event with the return value and send it."""
    if p.ret_attach[0] == "tracepoint":
        sig, rexpr = f"int hook_{p.hook_id}_ret(void *ctx)", "(*(s64 *)((char *)ctx + 16))"
    elif p.ret_section.startswith("fexit/"):
        sig, rexpr = f"int hook_{p.hook_id}_ret(u64 *ctx)", f"((s64)ctx[{p.ret_nargs}])"
    else:
        sig, rexpr = f"int hook_{p.hook_id}_ret(struct pt_regs *ctx)", "((s64)PT_REGS_RC(ctx))"
    ctype = INT_TYPES[p.ret_type][0]
    conds = []
    for si, s in enumerate(p.selectors):
        cs = [
            _c_int_cond(f"(({ctype})m->ret)", mr.operator,
                        _int_values(mr.values, f"{p.yaml_path}.selectors[{si}].matchReturnArgs"))
            for mr in s.match_return_args
        ]  # fmt: skip
        if cs:
            conds.append(f"(m->selector != {si} || ({' && '.join(cs)}))")
    keep = " && ".join(conds) if conds else "1"
    return f"""
SEC("{p.ret_section}")
{sig}
{{
	u64 id = bpf_get_current_pid_tgid();
	struct pmsg *m = bpf_map_lookup_elem(&retprobe_map, &id);
	if (!m)
		return 0;
	m->ret = {rexpr};
	if ({keep})
		emit(m, {p.hook_id}, MSG_SIZE({p.nslots}));
	bpf_map_delete_elem(&retprobe_map, &id);
	return 0;
}}
"""


def _hook_c(p: HookPlan, policy_filter: bool = False) -> str:
    p.helpers = []
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
        body.append(f"\tu64 a{a.pos} = {_arg_fetch(p, a)};")
        if a.type in INT_TYPES and INT_TYPES[a.type][0] in ("s32", "s8", "s16"):
            body.append(f"\ta{a.pos} = (s64)({INT_TYPES[a.type][0]})a{a.pos};")
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
    ret_default = "0"
    for si, s in enumerate(sels):
        late = late_all[si]
        cond = " && ".join([f"c{si}"] + late)
        code, override = _actions_code(p, si, s) if s is not None else _default_post(p)
        body.append(f"\tif ({cond}) {{")
        body.append(f"\t\tpcount({p.hook_id}, PC_MATCHED);")
        body.append("\t\t" + code)
        body.append(f"\t\treturn {override if p.method in ('fmod_ret', 'lsm') else 0};")
        body.append("\t}")
    body.append(f"\treturn {ret_default};")
    helpers = "".join(p.helpers)
    return f'{helpers}\nSEC("{p.section}")\n{sig}\n{{\n' + "\n".join(body) + "\n}\n"


def _default_post(p: HookPlan) -> tuple[str, int]:
    return (
        f"m->action = 1;\n\t\tm->selector = 0;\n\t\t{{ {_post_stmt(p)} }}",
        0,
    )
