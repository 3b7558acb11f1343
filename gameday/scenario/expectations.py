"""Expectations: a checker name and the bound its observation must meet.

A scenario writes ``name: {max: 15s}``, ``{min: 1}``, ``{equals: 0}``, ``{min: 1, max: 5}`` or a
bare scalar (equals). Limits are in the checker's unit; for a seconds unit they are durations.
A checker that reads options beside the bound (a :class:`ContextualChecker`) names them:
``rto.failover``'s ``from: <fault id>`` and ``hold: <duration>``; the load checkers' window,
``during: <fault id>`` or ``after: <fault id>``, with ``grace: <duration>``.

One checker may be graded more than once, each time with its own options, under a label:
``load.failure_ratio@recovered: {max: 0, after: primary-crash, grace: 10s}`` is the checker
``load.failure_ratio`` (the key's part before ``@``; the label is a slug).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gameday.checker_specs import CHECKER_CATALOG, CheckerSpec
from gameday.metrics.series import Across
from gameday.scenario.duration import Duration, parse_duration
from gameday.scenario.invalid import invalid
from gameday.scenario.metrics_spec import AlertName, LabelSelector, MetricName, SeriesSpec
from gameday.units import Unit

if TYPE_CHECKING:
    from gameday.checkers import Checker, CheckerRegistry

__all__ = [
    "LABEL_MARK",
    "Bound",
    "EqualsBound",
    "Expectation",
    "ExpectationName",
    "MaxBound",
    "MinBound",
    "RangeBound",
    "checker_name",
    "checkers_in",
    "expectation_input",
]

LABEL_MARK = "@"
"""Joins a checker's name and a label: ``load.failure_ratio@recovered``."""
_LABEL = re.compile(r"^[a-z0-9][a-z0-9-]*$")
WINDOW_KEYS = ("during", "after", "grace")
SERIES_KEYS = ("metric", "labels", "across")


def checker_name(name: str) -> str:
    """The checker an expectation key names: the key without its ``@label``."""
    return name.partition(LABEL_MARK)[0]


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


def checkers_in(context: Any) -> Mapping[str, Checker | CheckerSpec]:
    """What to validate against: ``context["checkers"]`` (a registry), or the default checkers' catalog."""
    if isinstance(context, Mapping) and context.get("checkers") is not None:
        registry: CheckerRegistry = context["checkers"]
        return registry
    return CHECKER_CATALOG


def _options_of(checker: Checker | CheckerSpec) -> frozenset[str]:
    if isinstance(checker, CheckerSpec):
        return checker.options
    from gameday.checkers import ContextualChecker  # a registry was given: the checkers are imported

    return checker.options if isinstance(checker, ContextualChecker) else frozenset()


def _known_checker(name: str, info: ValidationInfo) -> str:
    registry = checkers_in(info.context)
    checker, marked, label = name.partition(LABEL_MARK)
    if marked and not _LABEL.match(label):
        raise invalid("expectation_label", f"expected a label of lowercase letters, digits and '-' after "
                                           f"{LABEL_MARK} (e.g. {checker}{LABEL_MARK}recovered)")
    if checker not in registry:
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
    in_unit = f" ({unit})" if unit else ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid("number", f"expected a number{in_unit}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond any float
        number = math.inf
    if not math.isfinite(number):
        raise invalid("number", f"expected a finite number{in_unit}")
    return number


class Expectation(BaseModel):
    """A checker ``name`` and a bound: ``max`` and/or ``min``, or ``equals``.

    ``name`` comes from the key the expectation is written under, not from the YAML mapping.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    yaml_keys: ClassVar[tuple[str, ...]] = ("max", "min", "equals", "from", "hold", *WINDOW_KEYS,
                                            *SERIES_KEYS, "alert")

    name: str
    max: float | None = None
    min: float | None = None
    equals: float | None = None
    from_: str | None = Field(default=None, alias="from", min_length=1)
    """The ``id`` of the timeline fault the quantity is measured from (checked against the timeline)."""
    hold: Duration | None = None
    """How long a recovery must last to count (``rto.failover``)."""
    during: str | None = Field(default=None, min_length=1)
    """The ``id`` of the timeline fault whose span (start to heal) the quantity is read over."""
    after: str | None = Field(default=None, min_length=1)
    """The ``id`` of the timeline fault after whose heal (its start, when it has no ``for``) the
    quantity is read."""
    grace: Duration | None = None
    """How much later than ``during``'s or ``after``'s point the window opens."""
    metric: MetricName | None = None
    """The sample name a ``metric.*`` checker reads (a histogram: its family name)."""
    labels: LabelSelector | None = None
    across: Across | None = None
    alert: AlertName | None = None
    """The name of one of the scenario's ``alerts`` an ``alert.*`` checker reads."""

    @property
    def checker(self) -> str:
        """The checker's name: :attr:`name` without its ``@label``."""
        return checker_name(self.name)

    @field_validator("max", "min", "equals", mode="before")
    @classmethod
    def _limit_in_checker_unit(cls, value: Any, info: ValidationInfo) -> float | None:
        if value is None:
            return None
        checker = checkers_in(info.context).get(checker_name(info.data.get("name", "")))
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

    @model_validator(mode="after")
    def _one_window(self) -> Expectation:
        if self.during is not None and self.after is not None:
            raise invalid("window", "expected either during or after, not both")
        if self.grace is not None and self.during is None and self.after is None:
            raise invalid("window", "grace opens a window later: expected during or after beside it")
        return self

    @model_validator(mode="after")
    def _options_the_checker_takes(self, info: ValidationInfo) -> Expectation:
        given = list(self.options)
        if not given:
            return self
        checker = checkers_in(info.context).get(self.checker)
        if checker is None:
            return self  # an unknown name is reported as such
        takes = _options_of(checker)
        refused = [key for key in given if key not in takes]
        if refused:
            accepted = ", ".join(sorted(takes)) or "no option besides its bound (max, min, equals)"
            raise invalid("option", f"{self.checker} does not take {', '.join(refused)}; it takes {accepted}")
        return self

    @model_validator(mode="after")
    def _options_the_checker_needs(self, info: ValidationInfo) -> Expectation:
        checker = checkers_in(info.context).get(self.checker)
        needs: frozenset[str] = getattr(checker, "required_options", frozenset())
        missing = sorted(key for key in needs if key not in self.options)
        if missing:
            raise invalid("option", f"{self.checker} needs {', '.join(missing)}")
        if (self.labels is not None or self.across is not None) and self.metric is None:
            raise invalid("option", "labels and across select the series of a metric: expected metric beside")
        return self

    @property
    def series(self) -> SeriesSpec | None:
        """The series ``metric``, ``labels`` and ``across`` select, when ``metric`` is given."""
        if self.metric is None:
            return None
        return SeriesSpec(metric=self.metric, labels=self.labels or {}, across=self.across or Across.MAX)

    @property
    def options(self) -> dict[str, object]:
        """The options given beside the bound, by their YAML key."""
        given = {"from": self.from_, "hold": self.hold, "during": self.during, "after": self.after,
                 "grace": self.grace, "metric": self.metric, "labels": self.labels, "across": self.across,
                 "alert": self.alert}
        return {key: value for key, value in given.items() if value is not None}

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
