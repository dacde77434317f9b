"""Crowd settings from plain data, checked in one place before anything uses them.

Plain data reaches the crowd models from the control API, scenario files, fixtures and
the store. ``parse`` validates it against the models' own annotations with pydantic
(no NaN or infinity, no unknown keys, a number where a number belongs) and then runs
the models' ``__post_init__`` checks, so a setting that could not run is refused when
it is set, naming its field, instead of breaking the world when a job is planned.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import TYPE_CHECKING, Any, Iterable, Mapping, TypeVar

if TYPE_CHECKING:
    from pydantic import TypeAdapter, ValidationError

T = TypeVar("T")

#: Numbers a crowd model may hold: enough for any real crowd, small enough that no sum of
#: them overflows a float or a date.
MAX_MAGNITUDE = 1e9


class InvalidSettings(ValueError):
    """Crowd settings that cannot run: ``errors`` maps each bad field's path to what is wrong."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in self.errors.items()))

    def under(self, prefix: str) -> "InvalidSettings":
        """The same errors, their paths under ``prefix`` (``behaviour.classify.truth``)."""
        return InvalidSettings({f"{prefix}.{k}" if k else prefix: v for k, v in self.errors.items()})


def parse(model: type[T], data: Mapping[str, Any] | None) -> T:
    """``model`` built from plain data, or ``InvalidSettings`` naming every bad field."""
    if data is not None and not isinstance(data, Mapping):
        raise InvalidSettings({"": [f"must be an object of settings, not {type(data).__name__}"]})
    from pydantic import ValidationError  # here: pydantic costs a cold start ~50 ms, and most worlds never parse

    try:
        return _adapter(model).validate_python(dict(data or {}))
    except ValidationError as exc:
        raise _readable(exc, model) from None


def weights(name: str, table: Mapping[str, Any] | None, *, required: bool = False) -> list[str]:
    """What is wrong with a table of weights (finite, >= 0, at least one > 0 when ``required``
    or non-empty), as messages for ``name``."""
    if table is None or callable(table):
        return [f"{name} needs at least one entry"] if required and table is None else []
    values = [v[1] if isinstance(v, (tuple, list)) else v for v in table.values()]
    if any(not _number(v) or v < 0 or v > MAX_MAGNITUDE for v in values):
        return [f"{name} weights must be numbers from 0 to {MAX_MAGNITUDE:g}"]
    if (required or values) and not any(v > 0 for v in values):
        return [f"{name} needs at least one entry with a positive weight"]
    return []


def bounded(name: str, values: Iterable[Any]) -> list[str]:
    """Messages for ``name`` if any of ``values`` is not a finite number within MAX_MAGNITUDE."""
    if any(not _number(v) or abs(v) > MAX_MAGNITUDE for v in values):
        return [f"{name} must hold numbers from -{MAX_MAGNITUDE:g} to {MAX_MAGNITUDE:g}"]
    return []


def check(errors: Mapping[str, list[str]]) -> None:
    """Raise ``InvalidSettings`` for the fields that have messages (a model's ``__post_init__``)."""
    errors = {k: v for k, v in errors.items() if v}
    if errors:
        raise InvalidSettings(errors)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@functools.cache
def _adapter(model: type) -> "TypeAdapter":
    from pydantic import ConfigDict, TypeAdapter

    model.__pydantic_config__ = ConfigDict(allow_inf_nan=False, extra="forbid")  # type: ignore[attr-defined]
    return TypeAdapter(model)


def _readable(exc: "ValidationError", model: type) -> InvalidSettings:
    """pydantic's errors as ``{field path: [message]}``. Union branches are named by type in
    pydantic's paths; they are dropped, and so is the callable branch (plain data never is one)."""
    errors: dict[str, list[str]] = {}
    for err in exc.errors():
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, InvalidSettings):  # a model's own check, already by field
            for field, msgs in cause.errors.items():
                errors.setdefault(field, []).extend(m for m in msgs if m not in errors.get(field, []))
            continue
        loc = [str(p) for p in err["loc"]]
        if "callable" in loc:
            continue
        path = ".".join(p for p in loc if "[" not in p)
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] in ("unexpected_keyword_argument", "extra_forbidden"):
            message = f"unknown setting (known: {', '.join(f.name for f in dataclasses.fields(model))})"
        if message not in errors.setdefault(path, []):
            errors[path].append(message)
    return InvalidSettings(errors or {"": [str(exc)]})
