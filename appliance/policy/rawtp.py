"""Raw tracepoints (``tracepoints`` entries with ``raw: true``): a tp_btf program whose
``args`` index the tracepoint's TP_PROTO arguments, typed from the kernel's BTF.

The BTF prototype (``btf_trace_<event>``) tells how many arguments there are and what
each is, so a policy that reads a ``linux_binprm`` where the kernel passes a ``pid_t`` is
refused with both types named, rather than reading garbage. The planner
(``appliance.policy.plan``) asks ``raw_tracepoint_problem`` and builds the hook.
"""

from __future__ import annotations

from appliance.bpf.libbpf import raw_tracepoint_params
from appliance.policy.values import INT_TYPES

DEFAULT_BTF = "/sys/kernel/btf/vmlinux"
# the kernel type a pointer argument type must be
POINTER_TYPES = {
    "file": "struct file *", "path": "struct path *", "sock": "struct sock *",
    "socket": "struct socket *", "cred": "struct cred *", "skb": "struct sk_buff *",
    "linux_binprm": "struct linux_binprm *", "module": "struct module *",
    "user_namespace": "struct user_namespace *", "bpf_attr": "union bpf_attr *",
    "kiocb": "struct kiocb *", "net_device": "struct net_device *",
    "load_info": "struct load_info *", "dns": "struct msghdr *",
}  # fmt: skip
STRING_TYPES = {"string", "char_buf", "filename"}


def _type_problem(pos: int, t: str, kernel: str, where: str) -> str | None:
    want = POINTER_TYPES.get(t)
    if want is not None and kernel != want:
        return f"args[{pos}].type: {t!r} needs a {want} argument, but {where} is {kernel}"
    if t in STRING_TYPES and not kernel.endswith("*"):
        return f"args[{pos}].type: {t!r} needs a pointer, but {where} is {kernel}"
    if t in INT_TYPES and kernel.startswith(("struct ", "union ")):
        return f"args[{pos}].type: {t!r} is an integer, but {where} is {kernel}"
    return None


def raw_tracepoint_problem(event: str, args, offline: bool, btf: str) -> str | None:
    """Why ``args`` (ArgPlans: pos, index, type) cannot be read from raw tracepoint
    ``event`` on this kernel, as "<field>: <reason>"; None when they can."""
    params = raw_tracepoint_params(btf or DEFAULT_BTF, event)
    if params is None:
        if offline:
            return None  # the prototype is only known on the target kernel
        return (
            f"event: no raw tracepoint {event!r} in the kernel's BTF (no btf_trace_{event}); "
            "raw tracepoints need a kernel with BTF"
        )
    for a in args:
        if a.index >= len(params):
            return (
                f"args[{a.pos}].index: raw tracepoint {event} has {len(params)} arguments "
                f"({', '.join(params)})"
            )
        why = _type_problem(a.pos, a.type, params[a.index], f"argument {a.index} of {event}")
        if why:
            return why
    return None
