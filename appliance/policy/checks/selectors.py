"""Selectors: which filters a hook allows (matchData, matchReturnArgs), which arguments
each filter designates, and the PID, binary, namespace and capability filters."""

from __future__ import annotations

from appliance.policy import values as V
from appliance.policy.checks.actions import check_action
from appliance.policy.checks.context import Context
from appliance.policy.checks.operators import check_operator_values
from appliance.policy.model import (
    ArgSelector,
    Hook,
    Selector,
    hook_supports_return,
    resolve_arg_selector,
)
from appliance.policy.problems import PathT


def check_selector(ctx: Context, p: PathT, section: str, hook: Hook, sel: Selector) -> None:
    for key, kind, filters in (
        ("matchArgs", "matchArgs", sel.match_args),
        ("matchData", "matchData", sel.match_data),
        ("matchReturnArgs", "matchReturnArgs", sel.match_return_args),
    ):
        if not filters:
            continue
        if kind == "matchData" and not getattr(hook, "data", None):
            ctx.error(p + (key,), "matchData needs data entries in the hook")
            continue
        if kind == "matchReturnArgs":
            if not hook_supports_return(hook):
                ctx.error(
                    p + (key,),
                    "matchReturnArgs is only available on kprobes, fentries and uprobes",
                )
                continue
            if not hook.return_:  # type: ignore[union-attr]
                ctx.error(p + (key,), "matchReturnArgs needs return: true")
                continue
        for j, flt in enumerate(filters):
            check_arg_filter(ctx, p + (key, j), hook, flt, kind)  # type: ignore[arg-type]

    for key, flts in (("matchPIDs", sel.match_pids),):
        for j, pid in enumerate(flts):
            if not pid.values:
                ctx.error(p + (key, j, "values"), "matchPIDs needs at least one PID")
    for key, bins in (
        ("matchBinaries", sel.match_binaries),
        ("matchParentBinaries", sel.match_parent_binaries),
    ):
        for j, b in enumerate(bins):
            q = p + (key, j)
            if not b.values:
                ctx.error(q + ("values",), f"{key} needs at least one value")
            if b.follow_children and b.operator not in ("In", "NotIn"):
                ctx.error(
                    q + ("followChildren",),
                    f"followChildren only works with In and NotIn, not {b.operator}",
                )
            if b.operator in ("In", "NotIn"):
                for n, value in enumerate(b.values):
                    if not value.startswith("/"):
                        ctx.warn(
                            q + ("values", n),
                            f"'{value}' is not an absolute path: {b.operator} compares "
                            "the full path of the executable",
                        )
    for j, ns in enumerate(sel.match_namespaces):
        q = p + ("matchNamespaces", j)
        if not ns.values:
            ctx.error(q + ("values",), "matchNamespaces needs at least one value")
        for n, value in enumerate(ns.values):
            try:
                V.parse_namespace_value(value)
            except ValueError as exc:
                ctx.error(q + ("values", n), str(exc))
    for j, nsc in enumerate(sel.match_namespace_changes):
        if not nsc.values:
            ctx.error(
                p + ("matchNamespaceChanges", j, "values"),
                "matchNamespaceChanges needs at least one namespace",
            )
    for key, caps in (
        ("matchCapabilities", sel.match_capabilities),
        ("matchCapabilityChanges", sel.match_capability_changes),
    ):
        for j, cap in enumerate(caps):
            if not cap.values:
                ctx.error(p + (key, j, "values"), f"{key} needs at least one capability")

    if sel.match_return_actions:
        if not hook_supports_return(hook):
            ctx.error(
                p + ("matchReturnActions",),
                "matchReturnActions is only available on kprobes, fentries and uprobes",
            )
        elif not hook.return_:  # type: ignore[union-attr]
            ctx.error(p + ("matchReturnActions",), "matchReturnActions needs return: true")
    for key, actions in (
        ("matchActions", sel.match_actions),
        ("matchReturnActions", sel.match_return_actions),
    ):
        names = {a.action for a in actions}
        if {"Post", "NoPost"} <= names:
            ctx.warn(p + (key,), "both Post and NoPost are given; NoPost suppresses the event")
        for j, act in enumerate(actions):
            check_action(ctx, p + (key, j), section, hook, act)


def check_arg_filter(ctx: Context, p: PathT, hook: Hook, flt: ArgSelector, kind: str) -> None:
    if flt.index is not None and flt.args:
        ctx.error(p, "give either index or args, not both")
        return
    if len(flt.args) > 1 and flt.operator != "CapabilitiesGained":
        ctx.error(
            p + ("args",),
            f"only CapabilitiesGained compares several arguments; {flt.operator} takes one",
        )
        return
    res = resolve_arg_selector(hook, flt, kind)  # type: ignore[arg-type]
    if res.error:
        ctx.error(p + ("args" if flt.args else "index",), res.error)
        return
    if res.note:
        ctx.warn(p + ("index",), res.note)
    for _, arg in res.targets:
        check_operator_values(ctx, p, flt, arg)
