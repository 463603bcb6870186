"""Pydantic errors of the policy model, mapped back to YAML key names and list indexes
and worded for a reader of the YAML.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel

from appliance.policy.model import describe_value
from appliance.policy.problems import PathT


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            inner = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(inner) != 1:
                return tp
            tp = inner[0]
        else:
            return tp


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class found at a pydantic error location, if any."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = current.model_fields
            found = None
            for name, info in fields.items():
                if part in (name, info.alias):
                    found = info.annotation
                    break
            if found is None:
                return None
            current = found
        elif typing.get_origin(current) in (list, tuple):
            current = typing.get_args(current)[0]
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        else:
            return None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def _field_names(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


# Fields of other releases or drafts, with what to write instead.
_UNKNOWN_FIELD_HINTS: dict[str, str] = {
    "extractParam": "the field path to read is now given in resolve",
    "overwriteType": "give the type of the resolved field in type",
}


def schema_message(err: dict[str, Any], root: type[BaseModel]) -> str:
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    loc = err["loc"]
    if kind == "missing":
        return "required field missing"
    if kind == "extra_forbidden":
        key = str(loc[-1])
        if key in _UNKNOWN_FIELD_HINTS:
            return f"unknown field '{key}' ({_UNKNOWN_FIELD_HINTS[key]})"
        model = _model_at(root, loc[:-1])
        allowed = _field_names(model) if model else []
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        if close:
            return f"unknown field '{key}' (did you mean '{close[0]}'?)"
        if allowed:
            return f"unknown field '{key}' (expected one of: {', '.join(allowed)})"
        return f"unknown field '{key}'"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"expected an integer, got {describe_value(value)}"
    if kind in ("bool_parsing", "bool_type"):
        return f"expected true or false, got {describe_value(value)}"
    if kind == "string_type":
        return f"expected a string, got {describe_value(value)}"
    if kind == "list_type":
        return f"expected a list, got {describe_value(value)}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"expected a mapping, got {describe_value(value)}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}, got {value}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}, got {value}"
    if kind == "too_long":
        return (
            f"at most {ctx.get('max_length')} entries are allowed, got {ctx.get('actual_length')}"
        )
    if kind == "literal_error":
        return f"unexpected value {describe_value(value)} (expected {ctx.get('expected')})"
    msg = str(err.get("msg", kind))
    return msg.removeprefix("Value error, ")


def loc_path(loc: tuple[Any, ...]) -> PathT:
    return tuple(p for p in loc if isinstance(p, int) or p != "[key]")
