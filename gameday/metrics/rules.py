"""Conditions over a query's value at each scrape: alert rules and metric stop lines.

A condition holds at a scrape when the query's value there is above ``above`` or below ``below``.
A scrape where no series is selected reads ``absent`` (a number the rule gives, e.g. 0 for "no
instance says it is active"), else the condition does not hold there (as in Prometheus: no series,
no alert). It *fires* once it has held at every scrape for ``for_ns`` (from the first scrape at which
it held; ``0``: at that scrape) and *resolves* at the first scrape at which it does not hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gameday.metrics.series import Across, MetricQuery, Scrape

__all__ = ["Across", "AlertRule", "Condition", "ConditionWatch", "Firing", "firings"]


@dataclass(frozen=True)
class Condition:
    query: MetricQuery
    above: float | None = None
    below: float | None = None
    absent: float | None = None
    for_ns: int = 0

    def holds(self, value: float | None) -> bool:
        if value is None:
            return False
        return ((self.above is not None and value > self.above)
                or (self.below is not None and value < self.below))

    def describe(self) -> str:
        bound = f"> {self.above:g}" if self.above is not None else f"< {self.below:g}"
        held = f" for {self.for_ns / 1e9:g}s" if self.for_ns else ""
        return f"{self.query.describe()} {bound}{held}"


@dataclass(frozen=True)
class AlertRule:
    name: str
    condition: Condition


@dataclass(frozen=True)
class Firing:
    """One interval an alert fired: from ``fired_ns`` (its condition held since ``pending_ns``) to
    ``resolved_ns`` (``None``: still firing at the last scrape)."""

    pending_ns: int
    fired_ns: int
    resolved_ns: int | None
    worst: float | None  # the value furthest past the bound while it fired


class ConditionWatch:
    """Fed each scrape in order; :attr:`firing` says whether the condition fires after it."""

    def __init__(self, condition: Condition) -> None:
        self.condition = condition
        self.pending_ns: int | None = None
        self.fired_ns: int | None = None
        self.worst: float | None = None
        self.value: float | None = None

    @property
    def firing(self) -> bool:
        return self.fired_ns is not None

    def feed(self, scrape: Scrape) -> Firing | None:
        """The interval that resolved at this scrape, if one did."""
        value = self.condition.query.at(scrape)
        self.value = self.condition.absent if value is None else value
        if not self.condition.holds(self.value):
            resolved = None
            if self.fired_ns is not None and self.pending_ns is not None:
                resolved = Firing(self.pending_ns, self.fired_ns, scrape.t_ns, self.worst)
            self.pending_ns = self.fired_ns = self.worst = None
            return resolved
        if self.pending_ns is None:
            self.pending_ns = scrape.t_ns
        if self.fired_ns is None and scrape.t_ns - self.pending_ns >= self.condition.for_ns:
            self.fired_ns = scrape.t_ns
        if self.fired_ns is not None and self.value is not None:
            further = max if self.condition.above is not None else min
            self.worst = self.value if self.worst is None else further(self.worst, self.value)
        return None

    def still_firing(self) -> Firing | None:
        if self.fired_ns is None or self.pending_ns is None:
            return None
        return Firing(self.pending_ns, self.fired_ns, None, self.worst)


def firings(condition: Condition, scraped: Iterable[Scrape]) -> list[Firing]:
    """Every interval the condition fired over the scrapes, in order."""
    watch = ConditionWatch(condition)
    found = [firing for firing in (watch.feed(scrape) for scrape in scraped) if firing is not None]
    last = watch.still_firing()
    return found if last is None else [*found, last]
