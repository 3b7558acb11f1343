"""One number from a query's series over a span of scrapes.

- ``max``, ``min``, ``mean``, ``last``: of the query's combined value at each scrape that had one;
- ``p99``: of a histogram family (the query names it; its ``_bucket`` series are read), the 99th
  percentile of the observations made in the span (each bucket's increase, summed over the series
  selected, interpolated within the bucket as Prometheus's ``histogram_quantile``); of any other
  series, the 99th percentile (nearest rank) of its combined values;
- ``rate``: of a counter, its increase a second over the span (each series' increase, a drop read as
  a restart from zero, summed over the series selected; the span runs from the first to the last
  scrape in it).

``None`` when the span holds no value to aggregate.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from enum import StrEnum

from gameday.metrics.series import MetricQuery, Scrape

__all__ = ["Aggregate", "aggregate", "increase"]

BUCKET_SUFFIX = "_bucket"
_QUANTILE = 0.99


class Aggregate(StrEnum):
    MAX = "max"
    MIN = "min"
    MEAN = "mean"
    LAST = "last"
    P99 = "p99"
    RATE = "rate"


def increase(values: Sequence[float]) -> float:
    """A counter's increase over its samples; a drop is a restart from zero."""
    total = 0.0
    for before, after in itertools.pairwise(values):
        total += after - before if after >= before else after
    return total


def _series(scraped: Sequence[Scrape], query: MetricQuery, name: str, drop: str = "",
            ) -> dict[tuple[str, ...], list[float]]:
    """Each selected series' values in scrape order, keyed by service and labels (but ``drop``)."""
    found: dict[tuple[str, ...], list[float]] = defaultdict(list)
    for scrape in scraped:
        for service, sample in scrape.selected(query, name):
            labels = tuple(sorted(f"{key}={value}" for key, value in sample.labels.items() if key != drop))
            bucket = f"le={sample.labels.get(drop, '')}" if drop else ""
            found[(service, *labels, bucket)].append(sample.value)
    return found


def _rate(scraped: Sequence[Scrape], query: MetricQuery) -> float | None:
    series = _series(scraped, query, query.name)
    seen = [scrape.t_ns for scrape in scraped if scrape.selected(query)]
    if not series or len(seen) < 2 or seen[-1] == seen[0]:
        return None
    return sum(increase(values) for values in series.values()) / ((seen[-1] - seen[0]) / 1e9)


def _le(key: tuple[str, ...]) -> float:
    return float(key[-1].removeprefix("le="))


def _histogram_p99(scraped: Sequence[Scrape], query: MetricQuery) -> float | None:
    series = _series(scraped, query, query.name + BUCKET_SUFFIX, drop="le")
    by_le: dict[float, float] = defaultdict(float)
    for key, values in series.items():
        try:
            by_le[_le(key)] += increase(values)
        except ValueError:
            continue
    buckets = sorted(by_le.items())
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = _QUANTILE * buckets[-1][1]
    lower, below = 0.0, 0.0
    for le, cumulative in buckets:
        if cumulative >= rank:
            if math.isinf(le):
                return lower
            inside = cumulative - below
            return le if inside <= 0 else lower + (le - lower) * (rank - below) / inside
        lower, below = le, cumulative
    return lower


def _nearest_rank(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(_QUANTILE * len(ordered)) - 1)]


_OF_VALUES: dict[Aggregate, Callable[[list[float]], float]] = {
    Aggregate.MAX: max, Aggregate.MIN: min, Aggregate.MEAN: lambda values: sum(values) / len(values),
    Aggregate.LAST: lambda values: values[-1], Aggregate.P99: _nearest_rank,
}


def is_histogram(scraped: Sequence[Scrape], query: MetricQuery) -> bool:
    return any(scrape.selected(query, query.name + BUCKET_SUFFIX) for scrape in scraped)


def aggregate(how: Aggregate, scraped: Sequence[Scrape], query: MetricQuery) -> float | None:
    if how is Aggregate.RATE:
        return _rate(scraped, query)
    if how is Aggregate.P99 and is_histogram(scraped, query):
        return _histogram_p99(scraped, query)
    values = [value for value in (query.at(scrape) for scrape in scraped) if value is not None]
    return _OF_VALUES[how](values) if values else None
