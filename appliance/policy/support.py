"""What this engine does not support yet, decided here: the feature names a policy uses
(``features()``), the ones refused before planning (``UNSUPPORTED``), the selector
fields the planner refuses (``UNSUPPORTED_SELECTORS``) and the ``refuse_*`` checks the
planner runs on each part of a hook (sections, arguments, return values, selectors,
actions, operators). What a kernel cannot do is the planner's to say.
"""

from __future__ import annotations

from collections import defaultdict

from appliance.errors import PolicyError
from appliance.policy.constants import IMA_HASH_HOOKS
from appliance.policy.model import Selector, TracepointSpec, TracingPolicy
from appliance.policy.problems import PathT
from appliance.policy.vocabulary import (
    CAP_SET_OPS,
    CAP_SET_TYPES,
    DATA_SOURCES,
    DNS_NAME_MAX,
    FILE_TYPE_OPS,
    IFNAME_MAX,
    INT32_ARR_MAX,
    INT_ARG_ENCODING,
    INT_OPS,
    KERNEL_PTR_TYPES,
    MAP_OPS,
    PATH_TYPES,
    POSTFIX_MAX,
    RANGE_OPS,
    RET_SLOT_TYPES,
    RETURN_COPY_TYPES,
    SLOT_TYPES,
    SOCK_OPS,
    SOCKADDR_OPS,
    STRING_OPS,
    SUBSTRING_KFUNCS,
    SUPPORTED_ACTIONS,
    SUPPORTED_TYPES,
)

# Features this engine cannot load yet. The compiler removes names as it
# learns them (and may add any feature name that ``features()`` reports).
UNSUPPORTED: set[str] = set()

# Selector fields the planner refuses (attribute -> YAML name); the other selector
# fields become BPF conditions.
UNSUPPORTED_SELECTORS: dict[str, str] = {}

#: what matchReturnActions can do in the return half: the function has returned, so
#: nothing can change its result; a signal still stops the process before it goes on
RETURN_ACTIONS = ("Post", "NoPost", "Sigkill", "Signal")

FEATURE_DESCRIPTIONS: dict[str, str] = {
    "kprobes": "kprobes",
    "fentries": "fentries",
    "tracepoints": "tracepoints",
    "rawTracepoints": "raw tracepoints (tracepoints with raw: true)",
    "uprobes": "uprobes",
    "usdts": "USDT probes (spec.usdts)",
    "lsmhooks": "BPF LSM hooks (spec.lsmhooks)",
    "loader": "loader events (spec.loader)",
    "enforcers": "enforcer programs (spec.enforcers / killers)",
    "podSelector": "pod selectors",
    "containerSelector": "container selectors",
    "hostSelector": "host selectors",
    "selectorsMacros": "selector macros (spec.selectorsMacros)",
    "lists": "lists",
    "options": "policy options",
    "data": "data fields (data: with source)",
    "resolve": "argument field resolution (resolve:)",
    "return": "return probes (return: true)",
}


def features(policy: TracingPolicy) -> dict[str, list[PathT]]:
    """Features a policy uses, each with the YAML paths using it.

    Names: a spec section (``kprobes``, ``lsmhooks``, ``loader``,
    ``enforcers``, ``podSelector``...), ``rawTracepoints``, ``return``,
    ``data``, ``resolve``, ``list:<type>``, ``selector:<matchX>``,
    ``action:<Name>``, ``operator:<Name>`` and ``argType:<type>``.
    """
    spec = policy.spec
    found: dict[str, list[PathT]] = defaultdict(list)
    for section, i, hook in spec.hooks():
        p: PathT = ("spec", section, i)
        found[section].append(p)
        if isinstance(hook, TracepointSpec) and hook.raw:
            found["rawTracepoints"].append(p + ("raw",))
        if getattr(hook, "return_", False):
            found["return"].append(p + ("return",))
        for key in ("args", "data"):
            for j, arg in enumerate(getattr(hook, key, [])):
                found[f"argType:{arg.type}"].append(p + (key, j, "type"))
                if arg.resolve:
                    found["resolve"].append(p + (key, j, "resolve"))
                if key == "data":
                    found["data"].append(p + (key, j))
        ret = getattr(hook, "return_arg", None)
        if ret is not None:
            found[f"argType:{ret.type}"].append(p + ("returnArg", "type"))
        for k, sel in enumerate(hook.selectors):
            q = p + ("selectors", k)
            for name, info in Selector.model_fields.items():
                items = getattr(sel, name)
                if items:
                    found[f"selector:{info.alias}"].append(q + (info.alias,))
            for key, flts in (
                ("matchArgs", sel.match_args),
                ("matchData", sel.match_data),
                ("matchReturnArgs", sel.match_return_args),
            ):
                for j, flt in enumerate(flts):
                    found[f"operator:{flt.operator}"].append(q + (key, j, "operator"))
            for key, acts in (
                ("matchActions", sel.match_actions),
                ("matchReturnActions", sel.match_return_actions),
            ):
                for j, act in enumerate(acts):
                    found[f"action:{act.action}"].append(q + (key, j, "action"))
    if spec.loader:
        found["loader"].append(("spec", "loader"))
    for i in range(len(spec.enforcers)):
        found["enforcers"].append(("spec", "enforcers", i))
    for i in range(len(spec.killers)):
        found["enforcers"].append(("spec", "killers", i))
    for key, value in (
        ("podSelector", spec.pod_selector),
        ("containerSelector", spec.container_selector),
        ("hostSelector", spec.host_selector),
    ):
        if value is not None:
            found[key].append(("spec", key))
    if spec.selectors_macros:
        found["selectorsMacros"].append(("spec", "selectorsMacros"))
    for i, lst in enumerate(spec.lists):
        found["lists"].append(("spec", "lists", i))
        if lst.type:
            found[f"list:{lst.type}"].append(("spec", "lists", i, "type"))
    for i in range(len(spec.options)):
        found["options"].append(("spec", "options", i))
    return dict(found)


# The refusals below are the engine's, whatever the kernel: the planner calls them where it
# meets each part of a hook, and raises what the kernel cannot do itself.


def refuse_arg(a, path: str) -> None:
    """An argument (``path``: its YAML path) of a type or with a field the engine lacks."""
    t = a.type
    if t == "auto":
        raise PolicyError(f"{path}.type: 'auto' needs BTF argument resolution")
    if t not in SUPPORTED_TYPES:
        raise PolicyError(
            f"{path}.type: argument type {t!r} is not supported yet "
            f"(supported: {', '.join(sorted(SUPPORTED_TYPES))})"
        )
    if getattr(a, "return_copy", False) and t not in RETURN_COPY_TYPES:
        raise PolicyError(
            f"{path}.returnCopy: only {' and '.join(sorted(RETURN_COPY_TYPES))} arguments are "
            f"copied at return in this engine, not {t!r}"
        )
    if t == "int32_arr" and not 0 < getattr(a, "size", 0) <= INT32_ARR_MAX:
        raise PolicyError(
            f"{path}.size: an int32_arr needs its number of values, 1 to {INT32_ARR_MAX}"
        )


def refuse_data_entry(d, path: str) -> None:
    """A `data:` entry (``path``: its YAML path) from a source or of a type the engine
    does not read."""
    if d.source not in DATA_SOURCES:
        raise PolicyError(
            f"{path}.source: {d.source!r} is not a data source of this engine "
            f"(known: {', '.join(sorted(DATA_SOURCES))})"
        )
    if not d.resolve:
        raise PolicyError(f"{path}.resolve: a data entry names the member to read")
    if d.type not in SUPPORTED_TYPES or d.type in KERNEL_PTR_TYPES:
        raise PolicyError(f"{path}.type: data entries are strings or integers, not {d.type!r}")


def refuse_return_type(ret_type: str, ypath: str, syscall: bool = False) -> None:
    """Return values are integers, or (kernel functions) a sock read by the return probe."""
    if ret_type in INT_ARG_ENCODING:
        return
    path = f"{ypath}.returnArg.type"
    if ret_type in RET_SLOT_TYPES and not syscall:
        return
    if ret_type in RET_SLOT_TYPES:
        raise PolicyError(f"{path}: a syscall returns a number, not a {ret_type!r}")
    raise PolicyError(
        f"{path}: {ret_type!r} return values are not supported (supported: integer types, "
        f"{', '.join(sorted(RET_SLOT_TYPES))})"
    )


def refuse_return_of_all_syscalls(hook, ypath: str) -> None:
    """`list:` of generated_syscalls with no values (every syscall) and a return value."""
    if hook.return_ or hook.return_arg is not None:
        raise PolicyError(f"{ypath}.return: return values of all syscalls are not supported")


def refuse_selector_fields(sel, path: str) -> None:
    """Selector fields the engine does not turn into BPF conditions yet, and operators on
    return values other than the integer ones."""
    for ri, mr in enumerate(sel.match_return_args):
        if mr.operator not in INT_OPS:
            raise PolicyError(
                f"{path}.matchReturnArgs[{ri}].operator: {mr.operator} is not supported "
                "on return values in this engine"
            )
    for attr, yaml_name in UNSUPPORTED_SELECTORS.items():
        if getattr(sel, attr, None):
            raise PolicyError(f"{path}.{yaml_name}: not supported yet")
    for ai, act in enumerate(sel.match_return_actions):
        if act.action not in RETURN_ACTIONS:
            raise PolicyError(
                f"{path}.matchReturnActions[{ai}].action: {act.action} is not taken at return "
                f"by this engine (at return: {', '.join(RETURN_ACTIONS)})"
            )


def refuse_action(act, path: str, ima_planned: bool = False) -> None:
    """An action (``path``: its YAML path) the engine does not take, or an IMA hash asked
    where the hook's plan does not collect one (``ima_planned``: a sleepable LSM program
    hashes the file)."""
    if act.action not in SUPPORTED_ACTIONS:
        raise PolicyError(f"{path}.action: {act.action} is not supported yet")
    if act.ima_hash and act.action != "Post":
        raise PolicyError(f"{path}.imaHash: only the Post action reports IMA hashes")
    if act.ima_hash and not ima_planned:
        raise PolicyError(
            f"{path}.imaHash: IMA hashes are reported on LSM hooks only (spec.lsmhooks): "
            "bpf_ima_file_hash is callable only from sleepable BPF LSM programs"
        )


def refuse_ima_hash(hook: str, path: str, kernel_ok: bool) -> None:
    """Post imaHash on LSM hook ``hook``: the hook must pass a file (or an exec's binprm)
    and the kernel must run sleepable BPF LSM programs that call bpf_ima_file_hash."""
    if hook not in IMA_HASH_HOOKS:
        raise PolicyError(
            f"{path}: imaHash is not available on LSM hook {hook} "
            f"(available on: {', '.join(sorted(IMA_HASH_HOOKS))})"
        )
    if not kernel_ok:
        raise PolicyError(
            f"{path}: imaHash needs a sleepable BPF LSM program calling bpf_ima_file_hash "
            "(Linux 5.18+ with CONFIG_IMA and CONFIG_BPF_LSM, bpf in lsm=), "
            "which this kernel does not load"
        )


def refuse_operator(arg_type: str, ma, path: str) -> None:
    """A matchArgs operator the engine cannot test on an argument of this type."""
    op = ma.operator
    if arg_type in PATH_TYPES:
        ok = (
            op in STRING_OPS
            or op in SUBSTRING_KFUNCS
            or (arg_type == "fd" and op in INT_OPS)
            or (arg_type in ("file", "path") and op in FILE_TYPE_OPS)
        )
    elif arg_type == "net_device":  # its name, as Tetragon compares it
        ok = op in STRING_OPS
        if not ok:
            raise PolicyError(
                f"{path}.operator: a 'net_device' argument is compared by its name, with "
                f"{', '.join(sorted(STRING_OPS))}, not {op}"
            )
        for vi, v in enumerate(ma.values):
            if len(str(v).encode()) > IFNAME_MAX:
                raise PolicyError(
                    f"{path}.values[{vi}]: {str(v)!r} is longer than a device name can be "
                    f"({IFNAME_MAX} bytes)"
                )
    elif arg_type == "dns":  # its query name
        if op not in STRING_OPS:
            raise PolicyError(
                f"{path}.operator: a 'dns' argument is compared by its query name, with "
                f"{', '.join(sorted(STRING_OPS))}, not {op}"
            )
        for vi, v in enumerate(ma.values):
            if len(str(v).encode()) > DNS_NAME_MAX:
                raise PolicyError(
                    f"{path}.values[{vi}]: {str(v)!r} is longer than a DNS name can be "
                    f"({DNS_NAME_MAX} bytes)"
                )
        ok = True
    elif arg_type == "load_info":
        raise PolicyError(
            f"{path}.operator: a 'load_info' argument is only reported (Tetragon filters "
            "none of its fields)"
        )
    elif arg_type in ("sock", "socket"):
        ok = op in SOCK_OPS
    elif arg_type == "skb":
        ok = op in SOCK_OPS and op not in ("State", "NotState")
    elif arg_type == "sockaddr":
        ok = op in SOCKADDR_OPS
    elif arg_type in SLOT_TYPES:
        ok = False
    elif arg_type in CAP_SET_TYPES:
        ok = op in CAP_SET_OPS
    else:
        ok = op in INT_OPS or (op in (MAP_OPS | RANGE_OPS) and arg_type in INT_ARG_ENCODING)
    if not ok:
        raise PolicyError(
            f"{path}.operator: {op} is not supported on a {arg_type!r} argument in this engine"
        )
    if arg_type in SLOT_TYPES and op in ("Postfix", "NotPostfix"):
        for v in ma.values:
            if len(v.encode()) > POSTFIX_MAX:
                raise PolicyError(f"{path}.values: Postfix values longer than {POSTFIX_MAX} bytes")
