"""``metric.<aggregate>``: one number from the stack's own metrics, scraped into the history.

``metric.max@store-backlog: {metric: oms_store_backlog, max: 100, during: primary-crash}`` reads the
series ``metric``, ``labels`` and ``across`` select (:mod:`gameday.metrics.series`) at every scrape in
the window (the whole run, or ``during`` / ``after`` a fault with ``grace``, as the load checkers read
theirs) and aggregates them (:mod:`gameday.metrics.aggregates`): ``max``, ``min``, ``mean``, ``last``,
``p99`` (of a histogram family, from its buckets) or ``rate`` (a counter's increase a second).

Unknown when nothing was scraped, or no scrape in the window selected a series: absence never passes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from gameday.checker_specs import METRIC_AGGREGATE_SPECS
from gameday.checkers.base import GradingContext, Observation, Specified
from gameday.checkers.load import FOREVER, Span, span_of
from gameday.checkers.records import reference
from gameday.history import Op
from gameday.metrics.aggregates import Aggregate, aggregate
from gameday.metrics.series import MetricQuery, Scrape, scrapes

__all__ = ["MetricAggregate", "in_span", "metric_checkers", "scrape_evidence"]

_RUN = "the whole run"


def in_span(scraped: Sequence[Scrape], span: Span) -> list[Scrape]:
    return [scrape for scrape in scraped if span.start_ns <= scrape.t_ns < span.end_ns]


def scrape_evidence(inside: Sequence[Scrape], query: MetricQuery, span: Span, ops: Sequence[Op],
                    ) -> dict[str, Any]:
    """What a metrics checker read: the window, how many scrapes, which targets failed how often."""
    ref = reference(ops)
    failed: Counter[str] = Counter(service for scrape in inside for service, target in scrape.targets.items()
                                   if not target.ok)
    return {"query": query.describe(), "window": span.label, "reference": ref.describe(),
            "from": ref.instant(span.start_ns) if span.start_ns > -FOREVER else None,
            "to": ref.instant(span.end_ns) if span.end_ns < FOREVER else None,
            "scrapes": len(inside),
            "scrapes_selecting": sum(1 for scrape in inside if scrape.selected(query)),
            "failed_scrapes": dict(failed)}


class MetricAggregate(Specified):

    def __init__(self, how: Aggregate) -> None:
        self.how = how
        self.spec = METRIC_AGGREGATE_SPECS[how]
        self.description = f"the {how.value} of a scraped metric's series over the run or a fault's window"

    def check(self, ops: Sequence[Op]) -> Observation:
        return self.check_in(ops, GradingContext())

    def check_in(self, ops: Sequence[Op], context: GradingContext) -> Observation:
        query = context.metric
        if query is None:
            return Observation.absent(self.unit, "no metric named (the expectation's metric:)")
        scraped = scrapes(ops)
        if not scraped:
            return Observation.absent(self.unit, "no metrics scraped: the target exposes no metrics endpoint",
                                      query=query.describe())
        span = span_of(ops, context.window, _RUN)
        if isinstance(span, str):
            return Observation.absent(self.unit, span, query=query.describe())
        inside = in_span(scraped, span)
        evidence = scrape_evidence(inside, query, span, ops)
        value = aggregate(self.how, inside, query)
        if value is None:
            return Observation.absent(self.unit, f"no sample of {query.describe()} to take the {self.how} of "
                                                 f"({span.label})", **evidence)
        return Observation(value=round(value, 6), unit=self.unit, evidence=evidence,
                           note=f"{self.how} of {query.describe()} = {value:g} ({span.label})")


def metric_checkers() -> tuple[MetricAggregate, ...]:
    return tuple(MetricAggregate(how) for how in Aggregate)
