"""Enforcers (``spec.enforcers``, formerly ``killers``) and the NotifyEnforcer action.

A selector's NotifyEnforcer stores (error, signal) for the current thread in
``enforcer_map``; the enforcer program on each of the enforcer's calls finds it, sends
the signal and makes the call return the error, then forgets it. Making a call fail needs
a way to change its return value: fmod_ret or a BPF LSM hook on a security_* function,
bpf_override_return (kprobes with error injection) elsewhere. Where only a signal is asked,
the enforcer runs after the call: a syscall's on its sys_exit tracepoint, another
function's on a kretprobe (the signal is taken on the way back to user space either
way), so it sees the note of a hook on the call's entry whatever that hook's method.
Anything else is refused, naming what the kernel lacks: never loaded weaker than asked.
"""

from __future__ import annotations

from appliance.bpf.syscalls import arch_prefix, syscall_base
from appliance.bpf.tracefs import tracepoint_format
from appliance.errors import PolicyError

ENFORCER_MAP = (
    "struct enforcer_note { s32 error; u32 sig; };\n"
    "struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 32768);"
    ' __type(key, u64); __type(value, struct enforcer_note); } enforcer_map SEC(".maps");'
)


def _notify_actions(policy) -> list:
    out = []
    for _section, _i, hook in policy.spec.hooks():
        for sel in hook.selectors:
            out += [a for a in sel.match_actions if a.action == "NotifyEnforcer"]
    return out


def _enforcer_calls(policy) -> list[tuple[str, list[str]]]:
    """(YAML path, calls) of the policy's enforcers (killers folded in)."""
    spec = policy.spec
    out = [(f"spec.enforcers[{i}]", list(e.calls)) for i, e in enumerate(spec.enforcers)]
    out += [(f"spec.killers[{i}]", k.all_calls) for i, k in enumerate(spec.killers)]
    return out


def _expand(call: str, lists: dict, where: str) -> tuple[list[str], bool]:
    """The functions behind one enforcer call; True when they are syscalls."""
    if not call.startswith("list:"):
        return [call], call.startswith(("sys_", arch_prefix() + "sys_"))
    lst = lists.get(call[5:])
    if lst is None:
        raise PolicyError(f"{where}: list {call[5:]!r} is not defined in spec.lists")
    return list(lst.values), lst.type in ("syscalls", "generated_syscalls")


def plan_enforcers(policy, features, offline: bool) -> list[tuple]:
    """(function, method, section, attach, syscall, YAML path) of each function the
    enforcers attach to; the planner makes a HookPlan (kind ``enforcer``) of each."""
    entries = _enforcer_calls(policy)
    if not entries:
        return []
    wants_error = any(a.arg_error for a in _notify_actions(policy))
    lists = {lst.name: lst for lst in policy.spec.lists}
    out = []
    for where, calls in entries:
        for call in calls:
            fns, syscall = _expand(call, lists, f"{where}.calls")
            for fn0 in fns:
                syscall_fn = syscall or fn0.startswith(arch_prefix() + "sys_")
                fn = arch_prefix() + "sys_" + syscall_base(fn0) if syscall_fn else fn0
                how = _method(fn, fn0, syscall_fn, features, wants_error, where, offline)
                out.append((fn, *how, syscall_fn, f"{where}.calls"))
    return out


def _method(fn: str, fn0: str, syscall: bool, f, wants_error: bool, where: str, offline: bool):
    if fn.startswith("security_") and f.fmod_ret:
        return "fmod_ret", f"fmod_ret/{fn}", ("auto", "")
    if fn.startswith("security_") and f.lsm_active and f.lsm_prog:
        hook = fn[len("security_") :]
        return "lsm", f"lsm/{hook}", ("auto", "")
    if not wants_error:
        # a signal only: act after the call, so that the hook whose selector notified at
        # the call's entry has run (a kprobe on a function runs before a BPF trampoline
        # on it, so an entry enforcer would miss a note an fentry hook writes)
        if syscall:
            base = syscall_base(fn0)
            if not offline and tracepoint_format("syscalls", f"sys_exit_{base}") is None:
                raise PolicyError(f"{where}.calls: no syscall {base!r} on this kernel")
            return (
                "tracepoint",
                f"tracepoint/syscalls/sys_exit_{base}",
                ("tracepoint", f"syscalls/sys_exit_{base}"),
            )
        if f.kprobes:
            return "kretprobe", f"kretprobe/{fn}", ("auto", "")
    elif f.kprobes and f.override_return:
        return "kprobe", f"kprobe/{fn}", ("auto", "")
    need = "fmod_ret (BPF trampolines) or a BPF LSM hook, or " if fn.startswith("security_") else ""
    what = "make it return NotifyEnforcer's argError" if wants_error else "hook it"
    raise PolicyError(
        f"{where}.calls: to {what}, the enforcer on {fn} needs {need}bpf_override_return "
        "(kprobes with CONFIG_BPF_KPROBE_OVERRIDE and CONFIG_FUNCTION_ERROR_INJECTION); "
        "this kernel has none of them, so the policy is refused rather than loaded "
        "without enforcement"
    )


def enforcer_c(p) -> str:
    """The enforcer program: act on this thread's notification, if any."""
    if p.method in ("fentry", "fmod_ret", "lsm"):
        sig = f"int hook_{p.hook_id}(u64 *ctx)"
    elif p.method == "kprobe":
        sig = f"int hook_{p.hook_id}(struct pt_regs *ctx)"
    else:
        sig = f"int hook_{p.hook_id}(void *ctx)"
    # the kprobe method is planned only for an argError, where the kernel has
    # bpf_override_return (_method): a signal-only enforcer acts after the call instead
    override = "\tif (err)\n\t\tbpf_override_return(ctx, err);\n" if p.method == "kprobe" else ""
    ret = "err" if p.method in ("fmod_ret", "lsm") else "0"
    return f"""
SEC("{p.section}")
{sig}
{{
	u64 id = bpf_get_current_pid_tgid();
	struct enforcer_note *n = bpf_map_lookup_elem(&enforcer_map, &id);
	if (!n)
		return 0;
	s32 err = n->error;
	u32 sig = n->sig;
	bpf_map_delete_elem(&enforcer_map, &id);
	if (sig)
		bpf_send_signal(sig);
	pcount({p.hook_id}, PC_ACTIONS);
{override}	return {ret};
}}
"""


def notify_stmt(act) -> str:
    """NotifyEnforcer in a selector: what this thread's enforcer must do."""
    err, sig = int(act.arg_error or 0), int(act.arg_sig or 0)
    return (
        f"{{ struct enforcer_note en = {{ {err}, {sig} }}; "
        "bpf_map_update_elem(&enforcer_map, &id, &en, BPF_ANY); }"
    )


CLEANUP_STMT = "bpf_map_delete_elem(&enforcer_map, &id);"
