"""A frozen model of typed fields with bounds, for the daemon settings.

The settings are parsed from text by :mod:`appliance.settings` itself; what is left to a
model is small: the declared fields in order (type, tags, default, description, bounds),
keyword construction that refuses unknown names and checks each value against its
type and bounds, immutability, equality and a dict of the values. A general validation
library costs the idle agent about 10 MB of resident memory for that.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Literal, get_args, get_origin, get_type_hints

__all__ = ["FieldInfo", "FrozenModel", "ValidationError", "field"]


class ValidationError(ValueError):
    """Values a model refused; :meth:`errors` lists one mapping per problem with the
    field (``loc``), a ``type`` and the reason (``msg``)."""

    def __init__(self, model: str, problems: list[dict[str, Any]]) -> None:
        self.model = model
        self._problems = problems
        lines = [f"{len(problems)} validation error(s) for {model}"]
        lines += [f"{'.'.join(p['loc']) or model}: {p['msg']}" for p in problems]
        super().__init__("\n".join(lines))

    def errors(self) -> list[dict[str, Any]]:
        return [dict(p) for p in self._problems]


class ValueProblem(ValueError):
    """Raised by a field's parser or check: the value is refused for ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FieldInfo:
    """One declared field: its base type, its ``Annotated`` tags, default and bounds."""

    __slots__ = ("annotation", "default", "description", "metadata", "bounds")

    def __init__(self, default: Any, description: str, bounds: dict[str, Any]) -> None:
        self.default = default
        self.description = description
        self.bounds = bounds
        self.annotation: Any = None
        self.metadata: list[Any] = []


def field(default: Any, description: str = "", **bounds: Any) -> Any:
    """A field's default and description, with optional ``ge``, ``gt`` and ``le`` bounds."""
    unknown = set(bounds) - {"ge", "gt", "le"}
    if unknown:
        raise TypeError(f"unknown field bounds: {', '.join(sorted(unknown))}")
    return FieldInfo(default, description, bounds)


_BOUND_WORDS = {
    "ge": ("greater than or equal to", lambda v, b: v >= b),
    "gt": ("greater than", lambda v, b: v > b),
    "le": ("less than or equal to", lambda v, b: v <= b),
}


def _typed(info: FieldInfo, value: Any) -> Any:
    """``value`` as the field's type, converting only where no information is lost."""
    kind = info.annotation
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        raise ValueProblem("input should be a valid boolean")
    if kind is int:
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueProblem("input should be a valid integer")
    if kind is timedelta:
        if isinstance(value, timedelta):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                return timedelta(seconds=value)
            except (OverflowError, ValueError):
                raise ValueProblem("duration out of range") from None
        raise ValueProblem("input should be a valid duration")
    if kind is str:
        if isinstance(value, str):
            return value
        raise ValueProblem("input should be a valid string")
    if get_origin(kind) is Literal:
        if value in get_args(kind) and isinstance(value, str):
            return value
        raise ValueProblem("expected one of: " + ", ".join(get_args(kind)))
    if kind == tuple[str, ...]:
        if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
            return value
        raise ValueProblem("input should be a list of words")
    raise TypeError(f"unsupported field type {kind!r}")


def _check_bounds(info: FieldInfo, value: Any) -> None:
    for name, limit in info.bounds.items():
        words, ok = _BOUND_WORDS[name]
        if not ok(value, limit):
            raise ValueProblem(f"input should be {words} {limit}")


class FrozenModel:
    """Declared fields with defaults; ``Model(**values)`` checks every value given.

    Subclasses may define ``_before(name, value)`` (turns a raw value into the field's
    type), ``_after`` (a mapping of field name to a check returning the value) and
    ``_consistent(self)`` (checks across fields, raising ValueError).
    """

    model_fields: ClassVar[dict[str, FieldInfo]] = {}
    _after: ClassVar[Mapping[str, Callable[[Any], Any]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        hints = get_type_hints(cls, include_extras=True)
        fields: dict[str, FieldInfo] = {}
        for name in cls.__annotations__:
            info = cls.__dict__.get(name)
            if not isinstance(info, FieldInfo):
                continue
            kind = hints[name]
            if get_origin(kind) is Annotated:
                info.annotation, *info.metadata = get_args(kind)
            else:
                info.annotation = kind
            fields[name] = info
            delattr(cls, name)  # the instance's value, not the declaration, is the attribute
        cls.model_fields = fields

    @classmethod
    def _before(cls, name: str, value: Any) -> Any:
        return value

    def _consistent(self) -> None:
        return None

    def __init__(self, **values: Any) -> None:
        problems: list[dict[str, Any]] = []
        data: dict[str, Any] = {}
        fields = type(self).model_fields
        for name, value in values.items():
            info = fields.get(name)
            if info is None:
                problems.append({"type": "extra_forbidden", "loc": (name,), "msg": _EXTRA})
                continue
            try:
                value = _typed(info, type(self)._before(name, value))
                _check_bounds(info, value)
                check = type(self)._after.get(name)
                data[name] = check(value) if check else value
            except ValueProblem as e:
                problems.append({"type": "setting_value", "loc": (name,), "msg": e.reason})
            except ValueError as e:  # a parser's own refusal, in its words
                problems.append({"type": "value_error", "loc": (name,), "msg": str(e)})
        if problems:
            raise ValidationError(type(self).__name__, problems)
        for name, info in fields.items():
            object.__setattr__(self, name, data.get(name, info.default))
        try:
            self._consistent()
        except ValueError as e:
            raise ValidationError(
                type(self).__name__, [{"type": "value_error", "loc": (), "msg": str(e)}]
            ) from None

    @classmethod
    def model_validate(cls, values: Mapping[str, Any]) -> FrozenModel:
        return cls(**values)

    def model_dump(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in type(self).model_fields}

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: {name} cannot be set")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: {name} cannot be deleted")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.model_dump() == other.model_dump()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(tuple(self.model_dump().values()))

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self.model_dump().items())
        return f"{type(self).__name__}({body})"


_EXTRA = "extra inputs are not permitted"
