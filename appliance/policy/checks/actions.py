"""Actions: the fields each reads, and the rules of each (Override, Signal, FollowFD...)."""

from __future__ import annotations

import re
import urllib.parse

from appliance.policy.checks.context import Context
from appliance.policy.constants import IMA_HASH_HOOKS, MAX_SIGNAL
from appliance.policy.model import (
    DEPRECATED_ACTIONS,
    ActionSelector,
    Arg,
    Hook,
    LsmHookSpec,
    TracepointSpec,
    UProbeSpec,
    UsdtSpec,
    parse_rate_limit,
)
from appliance.policy.problems import PathT

_HOSTNAME = re.compile(
    r"^(?=.{1,253}\.?$)([A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9])?)"
    r"(\.[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9])?)*\.?$"
)

# Fields each action reads (YAML names); the others are ignored by it.
ACTION_FIELDS: dict[str, frozenset[str]] = {
    "Post": frozenset(
        {"rateLimit", "rateLimitScope", "kernelStackTrace", "userStackTrace", "imaHash"}
    ),
    "NoPost": frozenset(),
    "Sigkill": frozenset(),
    "Signal": frozenset({"argSig"}),
    "Override": frozenset({"argError", "argRegs"}),
    "FollowFD": frozenset({"argFd", "argName"}),
    "CopyFD": frozenset({"argFd", "argName"}),
    "UnfollowFD": frozenset({"argFd", "argName"}),
    "GetUrl": frozenset({"argUrl"}),
    "DnsLookup": frozenset({"argFqdn"}),
    "TrackSock": frozenset({"argSock"}),
    "UntrackSock": frozenset({"argSock"}),
    "NotifyEnforcer": frozenset({"argError", "argSig"}),
    "CleanupEnforcerNotification": frozenset(),
    "Set": frozenset({"argIndex", "argValue"}),
    "Regs": frozenset({"argReg"}),
}

POST_ONLY_FIELDS = ACTION_FIELDS["Post"]


def check_action(ctx: Context, p: PathT, section: str, hook: Hook, act: ActionSelector) -> None:
    name = act.action
    given = {
        info.alias or fname
        for fname, info in ActionSelector.model_fields.items()
        if fname != "action"
        and fname in act.model_fields_set
        and getattr(act, fname) not in (False, None, [])
    }
    uses = ACTION_FIELDS[name]
    for key in sorted(given - uses):
        if key in POST_ONLY_FIELDS:
            ctx.error(p + (key,), f"{key} is only valid with the Post action, not {name}")
        else:
            ctx.warn(p + (key,), f"{key} is ignored by the {name} action")

    if name in DEPRECATED_ACTIONS:
        ctx.warn(p + ("action",), f"{name} is deprecated upstream (unsafe; planned for removal)")

    if name == "Post":
        if act.rate_limit is not None:
            try:
                parse_rate_limit(act.rate_limit)
            except ValueError as exc:
                ctx.error(p + ("rateLimit",), str(exc))
        if act.rate_limit_scope is not None and act.rate_limit is None:
            ctx.error(p + ("rateLimitScope",), "rateLimitScope needs a rateLimit")
        if act.ima_hash:
            if not isinstance(hook, LsmHookSpec):
                ctx.warn(p + ("imaHash",), "imaHash only works on LSM hooks (spec.lsmhooks)")
            elif hook.hook not in IMA_HASH_HOOKS:
                ctx.warn(
                    p + ("imaHash",),
                    f"imaHash is not available on LSM hook {hook.hook} "
                    f"(available on: {', '.join(sorted(IMA_HASH_HOOKS))})",
                )
    elif name == "Override":
        if isinstance(hook, TracepointSpec | UsdtSpec):
            kind = "a tracepoint" if isinstance(hook, TracepointSpec) else "a usdt probe"
            ctx.error(p + ("action",), f"Override cannot change the result of {kind}")
        elif act.arg_error is None and not act.arg_regs:
            ctx.error(
                p,
                "Override needs argError (the value returned instead of calling the function)",
            )
        if act.arg_regs:
            if not isinstance(hook, UProbeSpec):
                ctx.error(p + ("argRegs",), "argRegs is only available on uprobes")
            for n, reg in enumerate(act.arg_regs):
                if "=" not in reg or not reg.split("=", 1)[0].strip():
                    ctx.error(
                        p + ("argRegs", n),
                        f"'{reg}' is not an assignment (register=expression, e.g. rax=11)",
                    )
    elif name == "Regs":
        if not isinstance(hook, UProbeSpec):
            ctx.error(p + ("action",), "Regs sets a traced program's registers: uprobes only")
        if not act.arg_reg:
            ctx.error(p, "Regs needs argReg (register:value entries, e.g. rax:0x123)")
        for n, reg in enumerate(act.arg_reg):
            if ":" not in reg or not reg.split(":", 1)[0].strip():
                ctx.error(
                    p + ("argReg", n),
                    f"'{reg}' is not an assignment (register:value, e.g. rax:0x123)",
                )
    elif name == "Signal":
        if act.arg_sig is None:
            ctx.error(p, "Signal needs argSig (the signal number, e.g. 9)")
        elif not 1 <= act.arg_sig <= MAX_SIGNAL:
            ctx.error(
                p + ("argSig",),
                f"argSig {act.arg_sig} is not a signal number (1..{MAX_SIGNAL})",
            )
    elif name in ("FollowFD", "CopyFD", "UnfollowFD"):
        check_action_arg(ctx, p, hook, "argFd", act.arg_fd_or_default)
        if name != "UnfollowFD":
            check_action_arg(ctx, p, hook, "argName", act.arg_name_or_default)
    elif name == "GetUrl":
        if not act.arg_url:
            ctx.error(p, "GetUrl needs argUrl (the URL to request)")
        else:
            url = urllib.parse.urlparse(act.arg_url)
            if url.scheme not in ("http", "https") or not url.netloc:
                ctx.error(p + ("argUrl",), f"'{act.arg_url}' is not an http:// or https:// URL")
    elif name == "DnsLookup":
        if not act.arg_fqdn:
            ctx.error(p, "DnsLookup needs argFqdn (the name to resolve)")
        elif not _HOSTNAME.match(act.arg_fqdn):
            ctx.error(p + ("argFqdn",), f"'{act.arg_fqdn}' is not a domain name")
    elif name in ("TrackSock", "UntrackSock"):
        arg = check_action_arg(ctx, p, hook, "argSock", act.arg_sock_or_default)
        if arg is not None and arg.type not in ("sock", "auto"):
            ctx.error(
                p + ("argSock",),
                f"{name} needs a sock argument, argSock designates a {arg.type}",
            )
    elif name in ("NotifyEnforcer", "CleanupEnforcerNotification"):
        if not ctx.has_enforcer:
            ctx.error(p + ("action",), f"{name} needs an enforcer (spec.enforcers)")
        if name == "NotifyEnforcer":
            if act.arg_error is None and act.arg_sig is None:
                ctx.warn(
                    p, "NotifyEnforcer without argError or argSig makes the enforcer do nothing"
                )
            if act.arg_sig is not None and not 1 <= act.arg_sig <= MAX_SIGNAL:
                ctx.error(
                    p + ("argSig",),
                    f"argSig {act.arg_sig} is not a signal number (1..{MAX_SIGNAL})",
                )
    elif name == "Set":
        if not isinstance(hook, UsdtSpec):
            ctx.error(p + ("action",), "Set is only available on usdt probes")
        if act.arg_index is None:
            ctx.error(p, "Set needs argIndex (the argument to write)")
        elif act.arg_index >= len(hook.args):
            ctx.error(
                p + ("argIndex",),
                f"argIndex {act.arg_index} refers to args[{act.arg_index}] but only "
                f"{len(hook.args)} are declared",
            )
        if act.arg_value is None:
            ctx.error(p, "Set needs argValue (the value to write)")


def check_action_arg(ctx: Context, p: PathT, hook: Hook, key: str, index: int) -> Arg | None:
    for arg in hook.args:
        if arg.index == index:
            return arg
    declared = ", ".join(str(a.index) for a in hook.args) or "none"
    ctx.error(
        p + (key,),
        f"{key} {index} refers to no declared argument (declared indexes: {declared})",
    )
    return None
