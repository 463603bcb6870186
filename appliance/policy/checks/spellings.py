"""Spellings the model folded into the upstream schema's names, reported as warnings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from appliance.policy.checks.context import Context
from appliance.policy.model import _Model
from appliance.policy.problems import PathT

# Upstream enum spellings that the model folds into another canonical name;
# not worth a warning.
_UPSTREAM_SPELLINGS = frozenset({"GreaterThan", "LessThan", "NotSportPriv"})


def _walk_models(obj: Any, path: PathT) -> Iterator[tuple[PathT, _Model]]:
    if isinstance(obj, _Model):
        yield path, obj
        for name, info in type(obj).model_fields.items():
            yield from _walk_models(getattr(obj, name), path + (info.alias or name,))
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            yield from _walk_models(item, path + (i,))
    elif isinstance(obj, dict):
        for key, item in obj.items():
            yield from _walk_models(item, path + (str(key),))


def _attr_for(model: type[BaseModel], key: str) -> str:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return name
    return key


def check_spellings(ctx: Context) -> None:
    for path, obj in _walk_models(ctx.policy, ()):
        for key, original in obj.respelled().items():
            canonical = getattr(obj, _attr_for(type(obj), key))
            if original in _UPSTREAM_SPELLINGS:
                continue
            if original == "NotifyKiller":
                ctx.warn(path + (key,), "NotifyKiller is the former name of NotifyEnforcer")
            else:
                ctx.warn(
                    path + (key,),
                    f"'{original}' is spelled '{canonical}' in the upstream schema",
                )


def check_rawtracepoints(ctx: Context) -> None:
    """``spec.rawtracepoints`` (a draft of raw tracepoints) loads as ``spec.tracepoints``
    entries with ``raw: true``; problems in them are reported at those paths."""
    raw = ctx.spec.rawtracepoints
    if raw:
        first = len(ctx.spec.tracepoints) - len(raw)
        where = f"spec.tracepoints[{first}]" if len(raw) == 1 else \
            f"spec.tracepoints[{first}..{first + len(raw) - 1}]"  # fmt: skip
        ctx.warn(
            ("spec", "rawtracepoints"),
            f"rawtracepoints is a draft spelling: read as {where} with raw: true, "
            "which is how the upstream schema writes raw tracepoints",
        )
