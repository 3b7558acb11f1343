"""Expectations: a checker name and the bound its observation must meet.

A scenario writes ``name: {max: 15s}``, ``{min: 1}``, ``{equals: 0}``, ``{min: 1, max: 5}`` or a
bare scalar (equals). Limits are in the checker's unit; for a seconds unit they are durations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator

from gameday.checkers import DEFAULT_CHECKERS, CheckerRegistry, Unit
from gameday.scenario.duration import parse_duration
from gameday.scenario.invalid import invalid

__all__ = [
    "Bound",
    "EqualsBound",
    "Expectation",
    "ExpectationName",
    "MaxBound",
    "MinBound",
    "RangeBound",
    "checkers_in",
    "expectation_input",
]


class _Bound(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MaxBound(_Bound):
    max: float


class MinBound(_Bound):
    min: float


class EqualsBound(_Bound):
    equals: float


class RangeBound(_Bound):
    min: float
    max: float


Bound = MaxBound | MinBound | EqualsBound | RangeBound


def expectation_input(name: str, spec: Any) -> Any:
    """The input of an ``Expectation`` for ``name: spec`` as a scenario writes it."""
    if isinstance(spec, dict):
        return {**spec, "name": name}
    return {"name": name, "equals": spec}


def checkers_in(context: Any) -> CheckerRegistry:
    """The checker registry to validate against: ``context["checkers"]`` or the default one."""
    if isinstance(context, Mapping) and "checkers" in context:
        registry: CheckerRegistry = context["checkers"]
        return registry
    return DEFAULT_CHECKERS


def _known_checker(name: str, info: ValidationInfo) -> str:
    registry = checkers_in(info.context)
    if name not in registry:
        known = ", ".join(sorted(registry))
        raise invalid("unknown_expectation", f"unknown expectation; expected a checker name, one of: {known}")
    return name


ExpectationName = Annotated[str, AfterValidator(_known_checker)]


def _limit(value: Any, unit: Unit | None) -> float:
    if unit is Unit.SECONDS:
        try:
            return parse_duration(value).seconds
        except ValueError as error:
            raise invalid("duration", str(error)) from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        in_unit = f" ({unit})" if unit else ""
        raise invalid("number", f"expected a number{in_unit}")
    return float(value)


class Expectation(BaseModel):
    """A checker ``name`` and a bound: ``max`` and/or ``min``, or ``equals``.

    ``name`` comes from the key the expectation is written under, not from the YAML mapping.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    yaml_keys: ClassVar[tuple[str, ...]] = ("max", "min", "equals")

    name: str
    max: float | None = None
    min: float | None = None
    equals: float | None = None

    @field_validator("max", "min", "equals", mode="before")
    @classmethod
    def _limit_in_checker_unit(cls, value: Any, info: ValidationInfo) -> float | None:
        if value is None:
            return None
        checker = checkers_in(info.context).get(info.data.get("name", ""))
        return _limit(value, None if checker is None else checker.unit)

    @model_validator(mode="after")
    def _one_bound(self) -> Expectation:
        if self.max is None and self.min is None and self.equals is None:
            raise invalid("bound", "expected a bound: max, min or equals (or a bare value)")
        if self.equals is not None and (self.max is not None or self.min is not None):
            raise invalid("bound", "expected either equals or max/min, not both")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise invalid("bound", f"expected min <= max, got min {self.min:g} > max {self.max:g}")
        return self

    @property
    def bound(self) -> Bound:
        if self.equals is not None:
            return EqualsBound(equals=self.equals)
        if self.max is not None and self.min is not None:
            return RangeBound(min=self.min, max=self.max)
        if self.max is not None:
            return MaxBound(max=self.max)
        assert self.min is not None  # guaranteed by _one_bound
        return MinBound(min=self.min)
