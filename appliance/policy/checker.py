"""Semantic checks of a policy: rules that span fields (an index refers to a declared
argument, an operator suits the argument type, values parse for the operator, an
action has the fields it needs, ``list:NAME`` exists...).

The rules live in ``appliance.policy.checks``, one module per part of a policy
(sections, hooks, args, selectors, operators, actions, spellings); this module runs
them in order and collects the problems.
"""

from __future__ import annotations

from appliance.policy.checks.context import Context
from appliance.policy.checks.hooks import check_hook
from appliance.policy.checks.sections import (
    check_enforcers,
    check_label_selectors,
    check_lists,
    check_metadata,
    check_options,
    uses_action,
)
from appliance.policy.checks.spellings import check_rawtracepoints, check_spellings
from appliance.policy.model import TracingPolicy
from appliance.policy.problems import Problem, Reporter
from appliance.policy.source import LineIndex


def run(ctx: Context) -> None:
    """Every rule, section by section, then each hook, then the spellings."""
    check_metadata(ctx)
    check_lists(ctx)
    check_options(ctx)
    check_enforcers(ctx)
    check_label_selectors(ctx)
    hooks = list(ctx.spec.hooks())
    for section, i, hook in hooks:
        check_hook(ctx, ("spec", section, i), section, hook)
    if not hooks:
        ctx.warn(("spec",), "the policy defines no hook (kprobes, tracepoints, uprobes...)")
    if ctx.spec.enforcers and not uses_action(ctx, "NotifyEnforcer"):
        ctx.warn(("spec", "enforcers"), "no selector uses NotifyEnforcer: the enforcer never acts")
    check_spellings(ctx)
    check_rawtracepoints(ctx)


def check_policy(
    policy: TracingPolicy, file: str, lines: LineIndex | None, document: int | None
) -> list[Problem]:
    rep = Reporter(file, lines, document)
    run(Context(policy, rep))
    return rep.problems
