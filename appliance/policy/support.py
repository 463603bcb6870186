"""What this engine does not support yet, decided here: the feature names a policy uses
(``features()``), the ones refused before planning (``UNSUPPORTED``) and the selector
fields the planner refuses (``UNSUPPORTED_SELECTORS``).
"""

from __future__ import annotations

from collections import defaultdict

from appliance.policy.model import Selector, TracepointSpec, TracingPolicy
from appliance.policy.problems import PathT

# Features this engine cannot load yet. The compiler removes names as it
# learns them (and may add any feature name that ``features()`` reports).
UNSUPPORTED: set[str] = {"loader"}

# Selector fields the planner refuses (attribute -> YAML name); the other selector
# fields become BPF conditions.
UNSUPPORTED_SELECTORS: dict[str, str] = {
    "match_return_actions": "matchReturnActions",
}

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
