"""A scenario's safety lines: ``stop_when:`` (what aborts the run) and ``safety:`` (what is done then).

Each condition is read from the history as it is recorded, from the moment the workload starts
until the runner starts healing (:mod:`gameday.stop`). When one is crossed the runner aborts the
timeline, heals every fault, runs the ``safety`` steps in order on the instance active then, and
grades the run as aborted with the reason.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from gameday.scenario.duration import Duration
from gameday.scenario.faults import PositiveDuration
from gameday.scenario.invalid import invalid
from gameday.scenario.metrics_spec import ConditionSpec, one_or_many

__all__ = ["FailureRatioLine", "RatePerSecondLine", "SafetyStep", "SafetySteps", "StopSpec"]

_DEFAULT_WINDOW = Duration(5_000_000_000)


class SafetyStep(StrEnum):
    """What the operator does once a stop line is crossed, on the instance active then."""

    CANCEL_ALL = "cancel-all"  # every open order (GET /orders?status=open, DELETE /orders/{id})
    FLATTEN = "flatten"  # POST /admin/flatten
    KILL_SWITCH = "kill-switch"  # POST /admin/kill-switch (halt, cancel all, flatten)


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FailureRatioLine(_Line):
    """Crossed when more than ``max`` of the workload's placements completed in the last ``over`` did
    not come back ok (failed or unknown), once ``over`` has passed and at least ``min_orders`` did."""

    max: float = Field(ge=0, lt=1, allow_inf_nan=False)
    over: PositiveDuration = _DEFAULT_WINDOW
    min_orders: int = Field(default=10, ge=1)


class RatePerSecondLine(_Line):
    """Crossed when more than ``max`` a second happened, averaged over the last ``over``."""

    max: float = Field(ge=0, allow_inf_nan=False)
    over: PositiveDuration = _DEFAULT_WINDOW


class StopSpec(_Line):
    """At least one condition; any one crossed stops the run."""

    no_active_for: PositiveDuration | None = None
    client_failure_ratio: FailureRatioLine | None = None
    rejects_per_s: RatePerSecondLine | None = None
    metric: tuple[ConditionSpec, ...] | None = None
    """Crossed when a condition on the scraped metrics fires (:mod:`gameday.metrics.rules`): one
    mapping or a list of them."""

    @field_validator("metric", mode="before")
    @classmethod
    def _one_or_many(cls, lines: object) -> object:
        if lines == []:
            raise invalid("no_metric_line", "expected a condition (metric, above or below, ...) or a list")
        return one_or_many(lines)

    @model_validator(mode="after")
    def _at_least_one(self) -> StopSpec:
        if (self.no_active_for is None and self.client_failure_ratio is None and self.rejects_per_s is None
                and self.metric is None):
            raise invalid("no_stop_condition", "expected at least one of no_active_for, "
                                               "client_failure_ratio, rejects_per_s, metric")
        return self


def _distinct(steps: tuple[SafetyStep, ...]) -> tuple[SafetyStep, ...]:
    if not steps:
        raise invalid("no_safety_step", f"expected at least one of {', '.join(SafetyStep)}")
    repeated = sorted(step.value for step, count in Counter(steps).items() if count > 1)
    if repeated:
        raise invalid("distinct", f"expected each safety step once, got {', '.join(repeated)} more than once")
    return steps


SafetySteps = Annotated[tuple[SafetyStep, ...], AfterValidator(_distinct)]
"""``safety: [cancel-all, flatten]``: run in order once a stop line is crossed."""
