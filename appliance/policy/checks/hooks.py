"""Each hook: the fields of its kind (call, path, tracepoint names, return value),
then its arguments and selectors."""

from __future__ import annotations

from appliance.policy.checks.args import check_args
from appliance.policy.checks.context import Context
from appliance.policy.checks.selectors import check_selector
from appliance.policy.model import (
    MAX_MESSAGE_LEN,
    Hook,
    KProbeSpec,
    LsmHookSpec,
    TracepointSpec,
    UProbeSpec,
    UsdtSpec,
)
from appliance.policy.problems import PathT


def check_hook(ctx: Context, p: PathT, section: str, hook: Hook) -> None:
    if isinstance(hook, KProbeSpec):
        check_kprobe(ctx, p, hook)
    elif isinstance(hook, TracepointSpec):
        for key in ("subsystem", "event"):
            value = getattr(hook, key)
            if not value.strip() or "/" in value or any(c.isspace() for c in value):
                ctx.error(p + (key,), f"'{value}' is not a tracepoint {key} name")
    elif isinstance(hook, UProbeSpec):
        check_uprobe(ctx, p, hook)
    elif isinstance(hook, UsdtSpec):
        for key in ("path", "provider", "name"):
            if not getattr(hook, key).strip():
                ctx.error(p + (key,), f"the usdt {key} must not be empty")
    elif isinstance(hook, LsmHookSpec):
        if not hook.hook.strip():
            ctx.error(p + ("hook",), "the LSM hook name must not be empty")

    if len(hook.message) > MAX_MESSAGE_LEN:
        ctx.error(
            p + ("message",),
            f"the message is {len(hook.message)} characters long (at most {MAX_MESSAGE_LEN})",
        )
    check_args(ctx, p, hook, "args", hook.args)
    data = getattr(hook, "data", [])
    check_args(ctx, p, hook, "data", data)
    for k, sel in enumerate(hook.selectors):
        check_selector(ctx, p + ("selectors", k), section, hook, sel)


def check_kprobe(ctx: Context, p: PathT, hook: KProbeSpec) -> None:
    if not hook.call.strip():
        ctx.error(p + ("call",), "the function name must not be empty")
    elif hook.list_name is not None:
        ctx.list_exists(p + ("call",), hook.list_name, "call")
    check_return(ctx, p, hook)


def check_uprobe(ctx: Context, p: PathT, hook: UProbeSpec) -> None:
    if not hook.path.strip():
        ctx.error(p + ("path",), "the binary path must not be empty")
    if hook.symbol is not None:
        ctx.warn(p + ("symbol",), "symbol is the former single-symbol form; use symbols: [...]")
    given = [(n, v) for n, v in (("symbols", hook.symbols), ("offsets", hook.offsets),
                                 ("addrs", hook.addrs)) if v]  # fmt: skip
    if len(given) != 1:
        names = " and ".join(n for n, _ in given)
        ctx.error(
            p,
            "a uprobe needs exactly one of symbols, offsets or addrs"
            + (f" (given: {names})" if names else ""),
        )
    elif hook.ref_ctr_offsets and len(hook.ref_ctr_offsets) != len(given[0][1]):
        name, vals = given[0]
        ctx.error(
            p + ("refCtrOffsets",),
            f"refCtrOffsets has {len(hook.ref_ctr_offsets)} entries but {name} has "
            f"{len(vals)}: each needs its reference counter offset",
        )
    if hook.resolve_path_in_container and ctx.spec.pod_selector is None:
        ctx.error(
            p + ("resolvePathInContainer",), "resolvePathInContainer requires spec.podSelector"
        )
    check_return(ctx, p, hook)


def check_return(ctx: Context, p: PathT, hook: KProbeSpec | UProbeSpec) -> None:
    action = getattr(hook, "return_arg_action", None)
    if action is not None:
        if not hook.return_:
            ctx.error(p + ("returnArgAction",), "returnArgAction needs return: true")
        elif action in ("TrackSock", "UntrackSock") and (
            hook.return_arg is None or hook.return_arg.type not in ("sock", "auto")
        ):
            got = "no returnArg" if hook.return_arg is None else f"type {hook.return_arg.type}"
            ctx.error(
                p + ("returnArgAction",),
                f"{action} needs a returnArg of type sock, got {got}",
            )
    if hook.return_arg is not None and not hook.return_:
        ctx.warn(p + ("returnArg",), "returnArg is ignored without return: true")
