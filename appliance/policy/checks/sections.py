"""The policy-wide sections: metadata, lists, options, enforcers and the label selectors."""

from __future__ import annotations

import re

from appliance.policy import values as V
from appliance.policy.checks.context import Context
from appliance.policy.constants import KNOWN_OPTIONS
from appliance.policy.model import LIST_PREFIX, LabelSelector, TracingPolicyNamespaced
from appliance.policy.problems import PathT

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

_SYSCALL_FUNC = re.compile(r"^(?:[a-z0-9_]+/)?(?:__[a-z0-9]+_)?sys_[A-Za-z0-9_]+$")


def check_metadata(ctx: Context) -> None:
    name = ctx.policy.metadata.name
    path: PathT = ("metadata", "name")
    if not name.strip():
        ctx.error(path, "the policy name must not be empty")
    elif len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        ctx.warn(
            path,
            f"'{name}' is not a valid Kubernetes object name (lower-case letters, digits, "
            "'-' and '.'); it loads from a file but cannot be created as a resource",
        )
    if isinstance(ctx.policy, TracingPolicyNamespaced):
        if not ctx.policy.metadata.namespace:
            ctx.warn(
                ("metadata",),
                "TracingPolicyNamespaced without metadata.namespace: it applies to the "
                "namespace it is created in",
            )
        if ctx.spec.host_selector is not None:
            ctx.error(
                ("spec", "hostSelector"),
                "TracingPolicyNamespaced cannot match host workloads so spec.hostSelector "
                "should be null",
            )


def check_lists(ctx: Context) -> None:
    seen: dict[str, int] = {}
    for i, lst in enumerate(ctx.spec.lists):
        p: PathT = ("spec", "lists", i)
        if not lst.name.strip():
            ctx.error(p + ("name",), "the list name must not be empty")
        elif lst.name in seen:
            ctx.error(
                p + ("name",),
                f"list '{lst.name}' is already defined by lists[{seen[lst.name]}]",
            )
        else:
            seen[lst.name] = i
        if lst.type == "generated_ftrace":
            if not lst.pattern:
                ctx.error(p, "a generated_ftrace list needs a pattern (a regular expression)")
            else:
                try:
                    re.compile(lst.pattern)
                except re.error as exc:
                    ctx.error(p + ("pattern",), f"invalid regular expression: {exc}")
        elif lst.pattern is not None:
            ctx.warn(p + ("pattern",), "pattern is only used by generated_ftrace lists")
        if lst.type in ("generated_syscalls", "generated_ftrace"):
            if lst.values:
                ctx.warn(
                    p + ("values",),
                    f"values are ignored by a {lst.type} list (it is generated)",
                )
            continue
        if not lst.values:
            ctx.error(p + ("values",), "the list has no values")
        for j, value in enumerate(lst.values):
            is_syscall = bool(_SYSCALL_FUNC.match(value))
            if lst.type == "syscalls" and not is_syscall:
                ctx.error(
                    p + ("values", j),
                    f"'{value}' is not a syscall function name (sys_NAME, optionally "
                    "prefixed by an ABI such as i386/)",
                )
            elif lst.type is None and is_syscall:
                ctx.warn(
                    p + ("type",),
                    f"list '{lst.name}' holds syscall names: set type: syscalls so they are "
                    "resolved to the syscall functions of this architecture",
                )
                break


def check_options(ctx: Context) -> None:
    seen: set[str] = set()
    for i, opt in enumerate(ctx.spec.options):
        p: PathT = ("spec", "options", i)
        if opt.name in seen:
            ctx.warn(p + ("name",), f"option '{opt.name}' is set more than once; the last one wins")
        seen.add(opt.name)
        if opt.name not in KNOWN_OPTIONS:
            ctx.warn(
                p + ("name",),
                f"unknown option '{opt.name}' (known options: {', '.join(KNOWN_OPTIONS)})",
            )
            continue
        accepted = KNOWN_OPTIONS[opt.name]
        if accepted is None:
            try:
                V.parse_bool_option(opt.value)
            except ValueError as exc:
                ctx.error(p + ("value",), f"option '{opt.name}': {exc}")
        elif opt.value not in accepted:
            ctx.error(
                p + ("value",),
                f"option '{opt.name}' accepts {', '.join(accepted)}, got '{opt.value}'",
            )


def check_enforcers(ctx: Context) -> None:
    entries: list[tuple[PathT, list[str]]] = []
    for i, enf in enumerate(ctx.spec.enforcers):
        entries.append((("spec", "enforcers", i), enf.calls))
    for i, killer in enumerate(ctx.spec.killers):
        p: PathT = ("spec", "killers", i)
        ctx.warn(p, "killers is the former name of enforcers (and syscalls of calls)")
        entries.append((p, killer.all_calls))
    if len(entries) > 1:
        ctx.error(entries[1][0], "only one enforcer can be defined per policy")
    for p, calls in entries:
        if not calls:
            ctx.error(p + ("calls",), "the enforcer has no calls to attach to")
        for j, call in enumerate(calls):
            if call.startswith(LIST_PREFIX):
                ctx.list_exists(p + ("calls", j), call[len(LIST_PREFIX) :], "the call")


# Label selectors ---------------------------------------------------------


def check_label_selectors(ctx: Context) -> None:
    for key in ("podSelector", "containerSelector", "hostSelector"):
        sel: LabelSelector | None = {
            "podSelector": ctx.spec.pod_selector,
            "containerSelector": ctx.spec.container_selector,
            "hostSelector": ctx.spec.host_selector,
        }[key]
        if sel is None:
            continue
        p: PathT = ("spec", key)
        if key == "hostSelector" and not sel.is_empty:
            ctx.error(p, "hostSelector can only be empty ({} selects every host)")
            continue
        for label, value in sel.match_labels.items():
            if key == "containerSelector" and label not in ("name", "repo"):
                ctx.error(
                    p + ("matchLabels", label),
                    "containerSelector only supports the 'name' and 'repo' keys",
                )
            if key == "containerSelector" and label == "repo":
                continue  # an image repository, not a label value
            if len(value) > 63 or not _LABEL_VALUE.match(value):
                ctx.error(
                    p + ("matchLabels", label),
                    f"'{value}' is not a valid label value (at most 63 letters, digits, "
                    "'-', '_' or '.', starting and ending with a letter or digit)",
                )
        for j, req in enumerate(sel.match_expressions):
            q = p + ("matchExpressions", j)
            if key == "containerSelector" and req.key not in ("name", "repo"):
                ctx.error(
                    q + ("key",), "containerSelector only supports the 'name' and 'repo' keys"
                )
            if req.operator in ("In", "NotIn") and not req.values:
                ctx.error(q + ("values",), f"operator {req.operator} needs at least one value")
            if req.operator in ("Exists", "DoesNotExist") and req.values:
                ctx.error(q + ("values",), f"operator {req.operator} takes no values")


def uses_action(ctx: Context, name: str) -> bool:
    for _, _, hook in ctx.spec.hooks():
        for sel in hook.selectors:
            for act in sel.match_actions + sel.match_return_actions:
                if act.action == name:
                    return True
    return False
