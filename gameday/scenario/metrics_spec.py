"""What a scenario says about the stack's metrics: the series it reads, alert rules, metric stop lines.

``alerts:`` is a list of rules the harness evaluates over the scraped series (:mod:`gameday.metrics.rules`)::

    alerts:
      - name: NoActiveInstance
        metric: oms_active          # one sample name (a histogram: its family name)
        labels: {}                  # each selected series carries these (service: the scraped target)
        across: sum                 # max (default), min, sum or count of the series at one scrape
        below: 1                    # or above: exactly one
        absent: 0                   # the value when no series is selected (default: the rule holds not)
        for: 1s                     # how long it must hold before it fires (default 0s)

A metric stop line (``stop_when: {metric: ...}``) is the same condition without a name.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from gameday.metrics import AlertRule, Condition, MetricQuery
from gameday.metrics.series import Across
from gameday.scenario.duration import Duration
from gameday.scenario.invalid import invalid

__all__ = ["AlertName", "AlertSpec", "ConditionSpec", "LabelSelector", "MetricName", "SeriesSpec",
           "distinct_alerts", "one_or_many"]

_METRIC = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_ALERT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
MAX_LABELS = 16


def _metric_name(name: str) -> str:
    if not _METRIC.match(name):
        raise invalid("metric_name", "expected a Prometheus metric name (letters, digits, '_' and ':', "
                                     "not starting with a digit), e.g. oms_store_backlog")
    return name


def _labels(labels: dict[str, str]) -> dict[str, str]:
    bad = sorted(name for name in labels if not _LABEL.match(name))
    if bad:
        raise invalid("label_name", f"expected label names of letters, digits and '_', got {', '.join(bad)}")
    if len(labels) > MAX_LABELS:
        raise invalid("labels", f"expected at most {MAX_LABELS} labels, got {len(labels)}")
    return labels


def _alert_name(name: str) -> str:
    if not _ALERT.match(name):
        raise invalid("alert_name", "expected a name of letters, digits and '_', e.g. NoActiveInstance")
    return name


MetricName = Annotated[str, AfterValidator(_metric_name)]
LabelSelector = Annotated[dict[str, str], AfterValidator(_labels)]
AlertName = Annotated[str, AfterValidator(_alert_name)]
Threshold = Annotated[float, Field(allow_inf_nan=False)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SeriesSpec(_Spec):
    metric: MetricName
    labels: LabelSelector = {}
    across: Across = Across.MAX

    @property
    def query(self) -> MetricQuery:
        return MetricQuery(self.metric, dict(self.labels), self.across)


class ConditionSpec(SeriesSpec):
    above: Threshold | None = None
    below: Threshold | None = None
    absent: Threshold | None = None
    for_: Duration = Field(default=Duration(0), alias="for")

    @model_validator(mode="after")
    def _one_side(self) -> ConditionSpec:
        if (self.above is None) == (self.below is None):
            raise invalid("threshold", f"expected exactly one of above or below, got "
                                       f"{'both' if self.above is not None else 'neither'}")
        return self

    @property
    def condition(self) -> Condition:
        return Condition(self.query, self.above, self.below, self.absent, self.for_.ns)


class AlertSpec(ConditionSpec):
    name: AlertName

    @property
    def rule(self) -> AlertRule:
        return AlertRule(self.name, self.condition)


def distinct_alerts(alerts: tuple[AlertSpec, ...]) -> tuple[AlertSpec, ...]:
    repeated = sorted(name for name, count in Counter(alert.name for alert in alerts).items() if count > 1)
    if repeated:
        raise invalid("distinct", f"expected each alert name once, got {', '.join(repeated)} more than once")
    return alerts


def one_or_many(lines: Any) -> Any:
    """A single mapping where a list of them is expected, as a list of one."""
    return [lines] if isinstance(lines, dict) else lines
