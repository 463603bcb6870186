"""TracingPolicy -> hook plans: what each hook attaches to and reads.

plan_policy picks the attach method per hook from the kernel's features (design
decision 3) and refuses what cannot be enforced (decision 4), with the YAML path and
the reason; the C emitter (``appliance.policy.emit``) turns the plans into one C file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from appliance.bpf.elf import elf_symbol_offset, elf_vaddr_offset
from appliance.bpf.syscalls import arch_prefix, syscall_base
from appliance.bpf.tracefs import tracepoint_field_decls, tracepoint_format
from appliance.errors import PolicyError
from appliance.policy import ftrace_list, loader, support
from appliance.policy.enforcer import plan_enforcers
from appliance.policy.equivalents import equivalent_of
from appliance.policy.rawtp import raw_tracepoint_problem
from appliance.policy.verdict import has_rdonly_cast
from appliance.policy.vocabulary import (
    CAP_SET_TYPES,
    DATA_SOURCES,
    INT_ARG_ENCODING,
    KERNEL_PTR_TYPES,
    RET_SLOT_TYPES,
    SLOT_TYPES,
    SUBSTRING_KFUNCS,
)


class AllFeatures:
    """A kernel with every hook and action: planning against it tells what the engine
    itself cannot do, whatever the kernel."""

    kprobes = fentry = fmod_ret = override_return = lsm_active = lsm_prog = True
    send_signal = ring_buffer = ima_hash = uprobe_regs = True
    kfuncs = ("bpf_strnstr", "bpf_strncasestr")


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
    return_copy: bool = False  # char_buf read by the return probe (the callee fills it)
    resolve_c: str = ""  # resolve: C of the member reached, {raw} being the argument
    is_data: bool = False  # a `data` entry (reported under `data`, matched by matchData)
    count: int = 0  # int32_arr: number of values
    fetch: str = ""  # C expression of the raw value, where not the hook's own argument
    read: str = ""  # C statement filling the slot, where not the type's own
    tp_array: tuple[int, int, bool] = (0, 0, False)  # a tracepoint's integer array field:
    # (count, element size, signed), copied whole and reported one value per element


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
    ret_slot: int = -1  # a returned kernel object (RET_SLOT_TYPES) is read into this slot
    ret_hidden: bool = False  # a return probe only for returnCopy: no `return` in events
    stack_slot: int = -1  # Post with kernelStackTrace/userStackTrace: the stack ids' slot
    ima_slot: int = -1  # Post with imaHash (LSM hooks): the file's IMA hash (algo, digest)
    ima_selectors: set[int] = field(default_factory=set)  # selectors whose Post has imaHash
    usdt: object = None  # usdts: the probe's note (appliance.policy.usdt.UsdtProbe)
    return_action: str = ""
    actions: set[str] = field(default_factory=set)
    userspace_actions: dict[int, list] = field(default_factory=dict)  # selector -> actions
    equivalent: str = ""  # attached in place of the function: where and what differs
    gates: list[str] = field(default_factory=list)  # C conditions every event needs
    ret_map: str = ""  # C expression of the reported return value from {r}, the raw one
    verdict_fd: str = ""  # local holding the fd of the file the per-file verdict is for
    verdict_cast: bool = False  # the verdict cache reads the fd table with plain loads
    verdict_on: bool = False  # set by the emitter: this hook's program uses the cache
    aux_attach: list[tuple[str, str, str]] = field(default_factory=list)  # (prog, how, target)
    # programs attached before the hook's own: on one BPF trampoline the program attached
    # last runs first, so these run after it (the imaHash half of an LSM hook)
    pre_attach: list[tuple[str, str, str]] = field(default_factory=list)
    lists: dict = field(default_factory=dict)  # spec.lists by name (InMap `list:NAME`)
    loader: bool = False  # the spec.loader hook: its events are process_loader
    uprobe_offset: int = 0  # a uprobe by offset or address: the file offset it is at
    ref_ctr: int = 0  # a uprobe's reference counter (semaphore) offset, 0 for none
    value_maps: dict[str, list[int]] = field(default_factory=dict)  # InMap hash map -> keys

    @property
    def name(self) -> str:
        if self.kind == "uprobe":
            return self.symbol or f"{self.path}+{self.uprobe_offset:#x}"
        return self.function_name or f"{self.subsys}/{self.event}"


def plan_policy(
    policy, features, offline: bool = False, equivalents: bool = True
) -> list[HookPlan]:
    """Decide the hooks and attach methods; raise PolicyError for what cannot be done.

    offline: plan without this machine's kernel (tracefs, binaries), to tell whether the
    engine supports a policy at all (`tetra tracingpolicy validate`).
    equivalents: a kernel function without a hook on this kernel attaches to its
    documented equivalent (appliance.policy.equivalents) instead of being refused.
    """
    spec = policy.spec
    plans: list[HookPlan] = []
    lists = {lst.name: lst for lst in spec.lists}

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
            if lst.type == "generated_ftrace":
                calls = ftrace_list.expand(lst, ypath, offline)
        for call in calls:
            if equivalents and _wants_equivalent(kp, call, syscall, features):
                for p in _plan_equivalent(len(plans), kp, call, ypath, features):
                    plans.append(p)
                continue
            plans.append(_plan_kprobe(len(plans), kp, call, syscall, ypath, features))
            plans[-1].spec = kp
    for i, fe in enumerate(getattr(spec, "fentries", []) or []):
        plans.append(_plan_fentry(len(plans), fe, f"spec.fentries[{i}]", features, offline))
        plans[-1].spec = fe
    for i, lh in enumerate(spec.lsmhooks):
        plans.append(_plan_lsm(len(plans), lh, f"spec.lsmhooks[{i}]", features))
        plans[-1].spec = lh
    for i, tp in enumerate(spec.tracepoints):
        plans.append(_plan_tracepoint(len(plans), tp, f"spec.tracepoints[{i}]", offline, features))
        plans[-1].spec = tp
    if loader.wanted(policy):
        plans.append(_plan_tracepoint(len(plans), loader.hook(), "spec.loader", offline, features))
        plans[-1].spec = loader.hook()
        plans[-1].loader = True
    for i, up in enumerate(spec.uprobes):
        _refuse_register_writes(up, f"spec.uprobes[{i}]", features)
        for target in uprobe_targets(up, f"spec.uprobes[{i}]"):
            plans.append(_plan_uprobe(len(plans), up, target, f"spec.uprobes[{i}]", offline))
            plans[-1].spec = up
    for i, us in enumerate(getattr(spec, "usdts", None) or []):
        plans.append(_plan_usdt(len(plans), us, f"spec.usdts[{i}]", offline))
        plans[-1].spec = us
    if not plans:
        raise PolicyError("spec: the policy has no kprobes, tracepoints or uprobes")
    for fn, method, section, attach, syscall, where in plan_enforcers(policy, features, offline):
        plans.append(HookPlan(len(plans), "enforcer", fn, method, section, attach, syscall,
                              False, [], [], where))  # fmt: skip
    for p in plans:
        if p.kind == "enforcer":
            continue
        p.lists = lists
        _add_data_args(p)
        _check_selectors(p)
        _check_kfuncs(p, features)
        _resolve_args(p, features)
    return plans


def _check_kfuncs(p: HookPlan, f) -> None:
    """SubString and SubStringIgnCase call the kernel's string kfuncs: refused, naming the
    missing one, on a kernel without it."""
    have = set(getattr(f, "kfuncs", ()) or ())
    for si, s in enumerate(p.selectors):
        for key, flts in (("matchArgs", s.match_args), ("matchData", s.match_data)):
            for mi, ma in enumerate(flts):
                kfunc = SUBSTRING_KFUNCS.get(ma.operator)
                if kfunc and kfunc not in have:
                    raise PolicyError(
                        f"{p.yaml_path}.selectors[{si}].{key}[{mi}].operator: {ma.operator} "
                        f"calls the kernel's {kfunc} kfunc, which this kernel does not have"
                    )


def _add_data_args(p: HookPlan) -> None:
    """`data` entries (source current_task) after the arguments: read as arguments are,
    from the source instead of the hook's arguments."""
    data = getattr(p.spec, "data", None) or []
    first = len(p.args)
    for j, d in enumerate(data):
        where = f"{p.yaml_path}.data[{j}]"
        support.refuse_data_entry(d, where)
        ap = ArgPlan(first + j, d.index, d.type, d.label)
        ap.is_data = True
        ap.fetch = DATA_SOURCES[d.source]
        if d.type in SLOT_TYPES:
            ap.slot = p.nslots
            p.nslots += 1
        p.args.append(ap)
    if len(p.args) > 6:
        raise PolicyError(f"{p.yaml_path}: at most 6 arguments and data entries per hook")


def _resolve_args(p: HookPlan, f) -> None:
    """`resolve:` paths into member reads at the offsets of this kernel's BTF."""
    spec_args = getattr(p.spec, "args", None) or []
    spec_data = getattr(p.spec, "data", None) or []
    ndeclared = len([a for a in p.args if not a.is_data])
    for a in p.args:
        if a.is_data:
            j = a.pos - ndeclared
            path, where = spec_data[j].resolve, f"{p.yaml_path}.data[{j}].resolve"
            funcs = ["struct task_struct"]  # source current_task
        else:
            path = spec_args[a.pos].resolve if a.pos < len(spec_args) else ""
            where = f"{p.yaml_path}.args[{a.pos}].resolve"
            funcs = []
        if not path:
            continue
        if not funcs and (p.user_mem or p.method in ("tracepoint", "uprobe")):
            raise PolicyError(
                f"{where}: resolve follows kernel struct members of a kernel function's "
                f"argument; this hook ({p.method}) has no BTF-typed kernel arguments"
            )
        if funcs:
            pass
        elif p.kind == "lsm":
            funcs = [f"bpf_lsm_{p.function_name}", f"security_{p.function_name}"]
        elif p.method == "tp_btf":
            funcs = [f"btf_trace_{p.event}"]
        else:
            funcs = [p.function_name]
        from appliance.policy.resolve import ResolveError, c_expression, resolve_path

        btf = getattr(f, "btf", "") or "/sys/kernel/btf/vmlinux"
        try:
            res = resolve_path(btf, funcs, a.index, path, a.type)
        except ResolveError as e:
            raise PolicyError(f"{where}: {e}") from None
        a.resolve_c = c_expression(res, "{raw}")


def _plan_args(args, ypath: str, user_mem: bool) -> tuple[list[ArgPlan], int]:
    out, slot = [], 0
    for j, a in enumerate(args):
        t = a.type
        support.refuse_arg(a, f"{ypath}.args[{j}]")
        if t in KERNEL_PTR_TYPES and user_mem:
            raise PolicyError(
                f"{ypath}.args[{j}].type: {t!r} is a kernel pointer; a syscall argument "
                "is a user pointer or a number (use string, char_buf, fd or an int type)"
            )
        ap = ArgPlan(j, a.index, t, a.label, a.size_arg_index)
        if t in CAP_SET_TYPES:  # the set itself, not the pointer to it
            off = "0" if t == "kernel_cap_t" else f"bpf_core_field_offset(struct cred, {t})"
            ap.resolve_c = f"rd_kernel((u64)({{raw}}) + {off}, 8)"
        ap.return_copy = bool(getattr(a, "return_copy", False))
        ap.count = getattr(a, "size", 0)
        if t in SLOT_TYPES:
            ap.slot = slot
            slot += 1
        out.append(ap)
    if len(out) > 6:
        raise PolicyError(f"{ypath}.args: at most 6 arguments per hook")
    return out, slot


def _sys_enter_tracepoint(ypath: str, base: str) -> tuple[str, str, tuple[str, str]]:
    """(method, section, attach) of a syscall's sys_enter tracepoint, the way in when the
    kernel has no kprobes; PolicyError when this kernel has no such syscall."""
    if tracepoint_format("syscalls", f"sys_enter_{base}") is None:
        raise PolicyError(
            f"{ypath}.call: no syscall {base!r} on this kernel "
            f"(no tracepoint syscalls/sys_enter_{base} and no kprobes)"
        )
    return (
        "tracepoint",
        f"tracepoint/syscalls/sys_enter_{base}",
        ("tracepoint", f"syscalls/sys_enter_{base}"),
    )


def _plan_kprobe(hid: int, kp, call: str, syscall: bool, ypath: str, f) -> HookPlan:
    if kp.return_ or kp.return_arg is not None:
        return _plan_kprobe_return(hid, kp, call, syscall, ypath, f)
    if any(a.return_copy for a in kp.args):
        plan = _plan_kprobe_return(hid, kp, call, syscall, ypath, f)
        plan.ret_hidden = True  # the return probe only copies the buffers
        return plan
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
            method, section, attach = _sys_enter_tracepoint(ypath, base)
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
        _check_message_args(fn, args, ypath, getattr(f, "btf", "") or "/sys/kernel/btf/vmlinux")
    return HookPlan(
        hid, "kprobe", fn, method, section, attach, syscall, syscall, args, kp.selectors,
        ypath, message=kp.message, tags=list(kp.tags), nslots=nslots,
    )  # fmt: skip


def _check_message_args(fn: str, args: list[ArgPlan], ypath: str, btf: str) -> None:
    """A `dns` argument parses the payload of a struct msghdr: refused, naming the
    kernel's type, on a function whose argument is something else (where BTF says)."""
    wanted = [a for a in args if a.type == "dns"]
    if not wanted:
        return
    from appliance.bpf.libbpf import function_params

    params = function_params(btf, fn)
    if params is None:
        return  # no BTF for it: attaching names a missing function
    for a in wanted:
        kernel = params[a.index] if a.index < len(params) else None
        if kernel != "struct msghdr *":
            what = f"is {kernel}" if kernel else f"does not exist ({fn} has {len(params)})"
            raise PolicyError(
                f"{ypath}.args[{a.pos}].type: 'dns' reads a DNS message from a "
                f"struct msghdr * (as udp_sendmsg and udpv6_sendmsg take), but argument "
                f"{a.index} of {fn} {what}"
            )


def _wants_equivalent(kp, call: str, syscall: bool, f) -> bool:
    """A kernel function this kernel cannot hook, with an equivalent, and nothing asked
    that only the function itself can do (Override, data, returnCopy, a returned sock:
    planned on the function, which this kernel then refuses naming what it lacks)."""
    if syscall or f.kprobes or f.fentry or equivalent_of(call) is None:
        return False
    if kp.data or any(a.return_copy for a in kp.args):
        return False
    if kp.return_arg is not None and kp.return_arg.type in RET_SLOT_TYPES:
        return False
    return not any(act.action == "Override" for s in kp.selectors for act in s.match_actions)


def _plan_equivalent(hid: int, kp, call: str, ypath: str, f) -> list[HookPlan]:
    """One tracepoint program per hook of the function's equivalent; each fills the
    arguments as the function would, and the events keep the function's name. A return
    value comes from the syscall's exit (its error, 0 on success)."""
    eq = equivalent_of(call)
    assert eq is not None
    out = []
    hooks = [h for h in eq.hooks if tracepoint_format("syscalls", f"sys_enter_{h.syscall}")]
    if not hooks:
        raise PolicyError(
            f"{ypath}.call: {call} cannot be hooked on this kernel (no kprobes, no fentry) "
            "and the syscall tracepoints of its equivalent are missing too"
        )
    ret = bool(kp.return_ or kp.return_arg is not None)
    ret_type = kp.return_arg.type if kp.return_arg is not None else "int"
    if ret:
        support.refuse_return_type(ret_type, ypath, syscall=True)  # the syscall's exit
    cast = has_rdonly_cast(getattr(f, "btf", "") or "/sys/kernel/btf/vmlinux")
    for hook in hooks:
        args, nslots = _plan_args(kp.args, ypath, user_mem=False)
        gates: list[str] = []
        verdict_fd = ""
        for a in args:
            how = hook.args.get(a.index)
            if how is None:
                raise PolicyError(
                    f"{ypath}.args[{a.pos}].index: argument {a.index} of {call} has no "
                    f"equivalent on syscall tracepoints (this kernel cannot hook {call})"
                )
            if a.type not in how.types:
                raise PolicyError(
                    f"{ypath}.args[{a.pos}].type: argument {a.index} of {call} is filled "
                    f"on its equivalent as {'/'.join(sorted(how.types))}, not {a.type!r}"
                )
            a.fetch = how.fetch
            a.read = how.read
            if how.gate:
                gates.append(how.gate.format(pos=a.pos))
            if how.from_fd:
                verdict_fd = f"a{a.pos}"
        section = f"tracepoint/syscalls/sys_enter_{hook.syscall}"
        plan = HookPlan(
            hid + len(out), "kprobe", call, "tracepoint", section,
            ("tracepoint", f"syscalls/sys_enter_{hook.syscall}"), False, False, args,
            kp.selectors, ypath, message=kp.message, tags=list(kp.tags), nslots=nslots,
            equivalent=eq.describe(), gates=gates, verdict_fd=verdict_fd, verdict_cast=cast,
        )  # fmt: skip
        if ret:
            plan.ret, plan.ret_type = True, ret_type
            plan.ret_section = f"tracepoint/syscalls/sys_exit_{hook.syscall}"
            plan.ret_attach = ("tracepoint", f"syscalls/sys_exit_{hook.syscall}")
            plan.ret_map = "({r} < 0 ? {r} : 0)"
            plan.return_action = kp.return_arg_action or ""
        plan.spec = kp
        out.append(plan)
    return out


def _plan_all_syscalls(hid: int, kp, ypath: str) -> HookPlan:
    """Every syscall: one program on raw_syscalls/sys_enter (cheaper than hundreds of
    hooks); the event names the syscall from its number."""
    support.refuse_return_of_all_syscalls(kp, ypath)
    args, nslots = _plan_args(kp.args, ypath, user_mem=True)
    return HookPlan(
        hid, "kprobe", "", "tracepoint", "tracepoint/raw_syscalls/sys_enter",
        ("tracepoint", "raw_syscalls/sys_enter"), True, True, args, kp.selectors, ypath,
        message=kp.message, tags=list(kp.tags), nslots=nslots, all_syscalls=True,
    )  # fmt: skip


def _plan_kprobe_return(hid: int, kp, call: str, syscall: bool, ypath: str, f) -> HookPlan:
    """A hook whose event carries the return value: kprobe + kretprobe where kprobes
    exist, else (syscalls) the sys_enter/sys_exit tracepoint pair."""
    ret_type = kp.return_arg.type if kp.return_arg is not None else "int"
    support.refuse_return_type(ret_type, ypath, syscall)
    if any(act.action == "Override" for s in kp.selectors for act in s.match_actions):
        return _plan_override_return(hid, kp, call, syscall, ypath, f, ret_type)
    if syscall:
        base = syscall_base(call)
        fn = arch_prefix() + "sys_" + base
        if f.kprobes:
            method, section, attach = "kprobe", f"kprobe/{fn}", ("auto", "")
            ret_section, ret_attach = f"kretprobe/{fn}", ("auto", "")
        else:
            method, section, attach = _sys_enter_tracepoint(ypath, base)
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
    plan = HookPlan(
        hid, "kprobe", fn, method, section, attach, syscall, syscall, args, kp.selectors,
        ypath, message=kp.message, tags=list(kp.tags), nslots=nslots, ret=True,
        ret_type=ret_type, ret_section=ret_section, ret_attach=ret_attach, return_action=act,
    )  # fmt: skip
    _add_ret_slot(plan)
    return plan


def _plan_override_return(
    hid: int, kp, call: str, syscall: bool, ypath: str, f, ret_type: str
) -> HookPlan:
    """Override with `return: true`: the entry program overrides (fmod_ret or
    bpf_override_return) and sends an overridden call's event at once, its return value
    being the override's; the other calls are finished by the return program (fexit
    after fmod_ret, kretprobe after a kprobe)."""
    fn = arch_prefix() + "sys_" + syscall_base(call) if syscall else call
    if not syscall and fn.startswith("security_") and f.fmod_ret and f.fentry:
        method, section = "fmod_ret", f"fmod_ret/{fn}"
        ret_section = f"fexit/{fn}"
    elif f.kprobes and f.override_return:
        method, section = "kprobe", f"kprobe/{fn}"
        ret_section = f"kretprobe/{fn}"
    else:
        need = "fmod_ret on a security_* function (BPF trampolines) or " if not syscall else ""
        raise PolicyError(
            f"{ypath}: Override on {fn} needs {need}bpf_override_return (kprobes with "
            "error injection); this kernel has neither, so the policy is refused rather "
            "than loaded without enforcement"
        )
    args, nslots = _plan_args(kp.args, ypath, user_mem=syscall)
    plan = HookPlan(
        hid, "kprobe", fn, method, section, ("auto", ""), syscall, syscall, args, kp.selectors,
        ypath, message=kp.message, tags=list(kp.tags), nslots=nslots, ret=True,
        ret_type=ret_type, ret_section=ret_section, ret_attach=("auto", ""),
        return_action=kp.return_arg_action or "",
    )  # fmt: skip
    if ret_section.startswith("fexit/"):
        from appliance.bpf.libbpf import function_arg_count

        nargs = function_arg_count(getattr(f, "btf", "") or "/sys/kernel/btf/vmlinux", fn)
        plan.ret_nargs = nargs if nargs is not None else max([a.index + 1 for a in args] + [1])
    _add_ret_slot(plan)
    return plan


def _add_ret_slot(plan: HookPlan) -> None:
    if plan.ret_type in RET_SLOT_TYPES:
        plan.ret_slot = plan.nslots
        plan.nslots += 1


def _plan_fentry(hid: int, fe, ypath: str, f, offline: bool) -> HookPlan:
    """`fentries`: BPF trampolines only (fentry, fexit for the return value)."""
    if not f.fentry:
        raise PolicyError(
            f"{ypath}.call: fentries need BPF trampolines, which this kernel does not load "
            "(use kprobes instead)"
        )
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
        support.refuse_return_type(plan.ret_type, ypath, fe.syscall)
        _add_ret_slot(plan)
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
    ima = ima_selectors(lh.selectors)
    if ima:
        where = f"{ypath}.selectors[{min(ima)}].matchActions"
        support.refuse_ima_hash(hook, where, bool(getattr(f, "ima_hash", False)))
    plan = HookPlan(
        hid, "lsm", hook, "lsm", f"lsm/{hook}", ("auto", ""), False, False, args,
        lh.selectors, ypath, message=lh.message, tags=list(lh.tags), nslots=nslots,
    )  # fmt: skip
    if ima:
        # the event program keeps a matching event; a sleepable program that runs after it
        # on the same hook (bpf_ima_file_hash may sleep) adds the hash and sends it
        plan.ima_selectors = set(ima)
        plan.ima_slot = plan.nslots
        plan.nslots += 1
        plan.pre_attach.append((f"hook_{hid}_ima", "auto", ""))
    return plan


def ima_selectors(selectors) -> list[int]:
    """The selectors whose Post action asks for the file's IMA hash."""
    return [
        si
        for si, s in enumerate(selectors or [])
        if any(a.action == "Post" and a.ima_hash for a in s.match_actions)
    ]


def _plan_tracepoint(hid: int, tp, ypath: str, offline: bool = False, f=None) -> HookPlan:
    if tp.raw:
        return _plan_raw_tracepoint(hid, tp, ypath, offline, getattr(f, "btf", "") or "")
    fmt = tracepoint_format(tp.subsystem, tp.event)
    if fmt is None and offline:
        fmt = [("", 0, 8, False)] * 64  # field layout is only known on the target kernel
    if fmt is None:
        raise PolicyError(f"{ypath}: no tracepoint {tp.subsystem}/{tp.event} on this kernel")
    tp_args, arrays = _typed_tracepoint_args(tp, ypath, fmt)
    args, nslots = _plan_args(tp_args, ypath, user_mem=True)
    for a in args:
        if a.index >= len(fmt):
            raise PolicyError(
                f"{ypath}.args[{a.pos}].index: {tp.subsystem}/{tp.event} has {len(fmt)} fields"
            )
        _name, a.tp_offset, a.tp_size, a.tp_signed = fmt[a.index]
        if a.pos in arrays:  # in the record itself: copied from the context, kernel memory
            a.tp_array = arrays[a.pos]
            a.read = (
                f"buf_arg(m, {{slot}}, {{pos}}, (const char *)ctx + {a.tp_offset}, {a.tp_size}, 0);"
            )
        if a.type in ("file", "path", "sock"):
            raise PolicyError(f"{ypath}.args[{a.pos}].type: {a.type!r} not supported here")
    return HookPlan(
        hid, "tracepoint", "", "tracepoint", f"tracepoint/{tp.subsystem}/{tp.event}",
        ("tracepoint", f"{tp.subsystem}/{tp.event}"), False, True, args, tp.selectors, ypath,
        subsys=tp.subsystem, event=tp.event, message=tp.message, tags=list(tp.tags),
        nslots=nslots,
    )  # fmt: skip


_ARRAY_DECL = re.compile(r"^(?P<base>.*?)\s*\b\w+\s*\[(?P<n>\d+)\]$")


def tracepoint_field_type(decl: str, size: int, signed: bool) -> tuple[str, tuple | None]:
    """The argument type of a tracepoint field as its format declares it (the type an
    argument without `type:` takes), as Tetragon reads it: integers by size and sign;
    an integer array (``unsigned long args[6]``) copied whole, one value per element
    (the array description: count, element size, signed); a char array as a string;
    a pointer other than `char *` as a number. ("", None) for what cannot be inferred."""
    if "__data_loc" in decl:
        return "", None
    m = _ARRAY_DECL.match(decl)
    if m:
        n = int(m.group("n"))
        if n <= 0 or size % n:
            return "", None
        if re.search(r"\bchar\b", m.group("base")):
            return "char_buf", (n, 1, False)
        if size // n in (1, 2, 4, 8):
            return "char_buf", (n, size // n, signed)
        return "", None
    if "*" in decl:  # a char * may be a string or a buffer: only its writer knows
        return ("", None) if re.search(r"\bchar\s*\*", decl) else ("uint64", None)
    if size == 8:
        return ("int64" if signed else "uint64"), None
    if size in (1, 2, 4):
        return ("int" if signed else "uint32"), None
    return "", None


def _typed_tracepoint_args(tp, ypath: str, fmt) -> tuple[list, dict[int, tuple]]:
    """tp.args with each `auto` type (no `type:` given) read from the field's
    declaration, and the array fields among them by position."""
    if all(a.type != "auto" for a in tp.args):
        return list(tp.args), {}
    decls = tracepoint_field_decls(tp.subsystem, tp.event)
    out, arrays = [], {}
    for j, a in enumerate(tp.args):
        if a.type == "auto" and a.index < len(fmt):
            if decls is None:  # the layout is only known on the target kernel
                t = "uint64"
            else:
                _name, _off, size, signed = fmt[a.index]
                t, arr = tracepoint_field_type(decls[a.index], size, signed)
                if not t:
                    raise PolicyError(
                        f"{ypath}.args[{j}].type: the type of field `{decls[a.index]}` of "
                        f"{tp.subsystem}/{tp.event} cannot be inferred; give it (string or "
                        "char_buf with sizeArgIndex for a char *)"
                    )
                if arr is not None:
                    arrays[j] = arr
            a = a.model_copy(update={"type": t})
        out.append(a)
    return out, arrays


def _plan_raw_tracepoint(hid: int, tp, ypath: str, offline: bool, btf: str) -> HookPlan:
    """`raw: true`: a tp_btf program; args index TP_PROTO, checked against the BTF types."""
    args, nslots = _plan_args(tp.args, ypath, user_mem=False)
    # an argument with resolve: is typed by the member it ends at (checked by _resolve_args)
    plain = [a for a in args if not tp.args[a.pos].resolve]
    why = raw_tracepoint_problem(tp.event, plain, offline, btf)
    if why:
        raise PolicyError(f"{ypath}.{why}")
    return HookPlan(
        hid, "tracepoint", "", "tp_btf", f"tp_btf/{tp.event}", ("auto", ""), False, False,
        args, tp.selectors, ypath, subsys=tp.subsystem, event=tp.event, message=tp.message,
        tags=list(tp.tags), nslots=nslots,
    )  # fmt: skip


@dataclass(frozen=True)
class UprobeTarget:
    """Where one uprobe of a `uprobes[]` entry goes: a symbol, a file offset (`offsets`)
    or an ELF virtual address (`addrs`), with its reference counter (`refCtrOffsets`)."""

    symbol: str = ""
    offset: int | None = None
    addr: int | None = None
    ref_ctr: int = 0


def uprobe_targets(up, ypath: str) -> list[UprobeTarget]:
    """Exactly one of symbols, offsets or addrs, as Tetragon takes them; refCtrOffsets
    pairs with that list, entry by entry."""
    lists = [
        (name, vals)
        for name, vals in (("symbols", up.symbols), ("offsets", up.offsets), ("addrs", up.addrs))
        if vals
    ]
    if len(lists) != 1:
        given = " and ".join(n for n, _ in lists) or "none"
        raise PolicyError(
            f"{ypath}: a uprobe needs exactly one of symbols, offsets or addrs (given: {given})"
        )
    name, vals = lists[0]
    refs = list(up.ref_ctr_offsets)
    if refs and len(refs) != len(vals):
        raise PolicyError(
            f"{ypath}.refCtrOffsets: {len(refs)} entries for {len(vals)} {name}: each needs "
            "its reference counter offset"
        )
    refs = refs or [0] * len(vals)
    key = {"symbols": "symbol", "offsets": "offset", "addrs": "addr"}[name]
    return [UprobeTarget(**{key: v, "ref_ctr": r}) for v, r in zip(vals, refs, strict=True)]


def _refuse_register_writes(up, ypath: str, f) -> None:
    """Override and Regs write the traced program's registers from the uprobe program,
    which only kernels that let uprobe programs write their context allow."""
    for si, s in enumerate(up.selectors):
        for ai, act in enumerate(s.match_actions):
            if act.action == "Override" and up.return_:
                raise PolicyError(
                    f"{ypath}.selectors[{si}].matchActions[{ai}]: Override on a uprobe with "
                    "return: true: the function returns at once, so there is no return "
                    "to probe (and the return probe would take the rewritten return address)"
                )
            if act.action in ("Override", "Regs") and not getattr(f, "uprobe_regs", False):
                raise PolicyError(
                    f"{ypath}.selectors[{si}].matchActions[{ai}]: {act.action} on a uprobe "
                    "writes the traced program's registers, and this kernel's verifier "
                    "refuses uprobe programs that write them (invalid bpf_context access); "
                    "it needs a kernel that lets uprobe programs change user registers"
                )


def _uprobe_offset(up, t: UprobeTarget, ypath: str, offline: bool) -> int:
    """The file offset the kernel attaches at."""
    if offline and not os.path.exists(up.path):
        return t.offset or 0  # the binary is on the target machine
    if not os.path.exists(up.path):
        raise PolicyError(f"{ypath}.path: {up.path} does not exist")
    if t.offset is not None:
        return t.offset
    if t.addr is not None:
        off = elf_vaddr_offset(up.path, t.addr)
        if off is None:
            raise PolicyError(f"{ypath}.addrs: {t.addr:#x} is in no loadable segment of {up.path}")
        return off
    off = elf_symbol_offset(up.path, t.symbol)
    if off is None:
        raise PolicyError(f"{ypath}.symbols: no symbol {t.symbol!r} in {up.path}")
    return off


def _plan_uprobe(hid: int, up, t: UprobeTarget, ypath: str, offline: bool = False) -> HookPlan:
    """A uprobe; with `return: true`, a uretprobe on the same place finishes the event
    with the function's return value (returnArg)."""
    off = _uprobe_offset(up, t, ypath, offline)
    args, nslots = _plan_args(up.args, ypath, user_mem=True)
    where = f"{up.path}:{off}" + (f":{t.ref_ctr}" if t.ref_ctr else "")
    how = "usdt" if t.ref_ctr else "uprobe"  # "usdt": attached with a reference counter
    plan = HookPlan(
        hid, "uprobe", "", "uprobe", "uprobe", (how, where), False, True,
        args, up.selectors, ypath, path=up.path, symbol=t.symbol, message=up.message,
        tags=list(up.tags), nslots=nslots, uprobe_offset=off if not t.symbol else 0,
        ref_ctr=t.ref_ctr,
    )  # fmt: skip
    if up.return_:
        plan.ret = True
        plan.ret_type = up.return_arg.type if up.return_arg is not None else "int"
        if plan.ret_type not in INT_ARG_ENCODING:
            raise PolicyError(
                f"{ypath}.returnArg.type: a uprobe's return value is read from the return "
                f"register as a number; {plan.ret_type!r} is not one (integer types only)"
            )
        plan.ret_section = "uretprobe"
        plan.ret_attach = ("uretprobe_ref" if t.ref_ctr else "uretprobe", where)
    return plan


def _plan_usdt(hid: int, us, ypath: str, offline: bool) -> HookPlan:
    """A USDT probe: a uprobe at the probe's instruction, its arguments read as its SDT
    note says (appliance.policy.usdt)."""
    from appliance.policy.usdt import UsdtError, fetch_c, find_probe

    probe = None
    if not (offline and not os.path.exists(us.path)):
        if not os.path.exists(us.path):
            raise PolicyError(f"{ypath}.path: {us.path} does not exist")
        try:
            probe = find_probe(us.path, us.provider, us.name)
        except (UsdtError, OSError) as e:
            raise PolicyError(f"{ypath}: {e}") from None
    args, nslots = _plan_args(us.args, ypath, user_mem=True)
    for a in args:
        if probe is None:
            a.fetch = "((u64)0)"  # the binary is on the target machine
        elif a.index >= len(probe.args):
            raise PolicyError(
                f"{ypath}.args[{a.pos}].index: USDT {us.provider}:{us.name} has "
                f"{len(probe.args)} arguments"
            )
        else:
            a.fetch = fetch_c(probe.args[a.index])
    off, sem = (probe.offset, probe.semaphore) if probe else (0, 0)
    plan = HookPlan(
        hid, "usdt", us.name, "uprobe", "uprobe", ("usdt", f"{us.path}:{off}:{sem}"), False,
        True, args, us.selectors, ypath, path=us.path, symbol=us.provider, message=us.message,
        tags=list(us.tags), nslots=nslots,
    )  # fmt: skip
    plan.usdt = probe
    return plan


def _check_selectors(p: HookPlan) -> None:
    for si, s in enumerate(p.selectors):
        sp = f"{p.yaml_path}.selectors[{si}]"
        if s.match_return_args and not p.ret:
            raise PolicyError(f"{sp}.matchReturnArgs: needs `return: true` on the hook")
        if s.match_return_actions and not p.ret:
            raise PolicyError(f"{sp}.matchReturnActions: needs `return: true` on the hook")
        support.refuse_selector_fields(s, sp)
        for key, flts in (("matchArgs", s.match_args), ("matchData", s.match_data)):
            for mi, ma in enumerate(flts):
                for a in arg_targets(p, ma, f"{sp}.{key}[{mi}]", key):
                    support.refuse_operator(a.type, ma, f"{sp}.{key}[{mi}]")
        for ai, act in enumerate(s.match_actions):
            support.refuse_action(act, f"{sp}.matchActions[{ai}]", p.ima_slot >= 0)
            if act.action == "Set":
                _check_set(p, act, f"{sp}.matchActions[{ai}]")
            if act.action == "Override" and p.method not in ("fmod_ret", "kprobe", "lsm"):
                if p.kind != "uprobe":
                    raise PolicyError(f"{sp}.matchActions[{ai}]: Override is not possible here")
            if act.action == "Regs" and p.kind != "uprobe":
                raise PolicyError(
                    f"{sp}.matchActions[{ai}]: Regs sets a traced program's registers: uprobes only"
                )
            if (act.kernel_stack_trace or act.user_stack_trace) and p.stack_slot < 0:
                p.stack_slot = p.nslots  # the stack ids of the event (appliance.policy.stacks)
                p.nslots += 1
            p.actions.add(act.action)


def _check_set(p: HookPlan, act, path: str) -> None:
    """Set writes a value into a USDT argument: one the note places in user memory."""
    if p.kind != "usdt":
        raise PolicyError(f"{path}.action: Set writes USDT arguments; this hook is a {p.kind}")
    if p.usdt is None:
        return  # offline: the note is in the binary on the target machine
    idx = act.arg_index or 0
    args = p.usdt.args
    if idx >= len(args):
        raise PolicyError(f"{path}.argIndex: the USDT probe has {len(args)} arguments")
    if args[idx].kind != "mem":
        raise PolicyError(
            f"{path}.argIndex: USDT argument {idx} is {args[idx].kind} "
            f"({args[idx].reg or args[idx].offset}), not memory: a uprobe cannot write it"
        )


def arg_targets(p: HookPlan, ma, path: str, kind: str = "matchArgs") -> list[ArgPlan]:
    """The declared arguments a matchArgs entry refers to (Tetragon's rules: `args` are
    positions in the args list, `index` matches an argument's index)."""
    from appliance.policy.model import resolve_arg_selector

    if p.spec is None:
        by_index = {a.index: a for a in p.args}
        idxs = [ma.index] if ma.index is not None else list(ma.args)
        if any(i not in by_index for i in idxs):
            raise PolicyError(f"{path}.index: no argument with index {idxs} is declared")
        return [by_index[i] for i in idxs]
    res = resolve_arg_selector(p.spec, ma, kind)  # type: ignore[arg-type]
    if res.error:
        raise PolicyError(f"{path}: {res.error}")
    first = len([a for a in p.args if not a.is_data]) if kind == "matchData" else 0
    return [p.args[first + pos] for pos, _arg in res.targets]
