"""The scrapes a run recorded, read back: which series a query selects and its value at each scrape.

A query names one sample name (``oms_store_backlog``, ``oms_orders_total``; a histogram by its family
name) and labels each selected series must carry with those values. The label ``service`` is the
scraped target's name (``oms-primary``), whatever the exporter says. At one scrape, the values of
every series selected are combined ``across`` them (``max`` by default, ``sum``, ``min``, or ``count``
of the series); a scrape where no series is selected (the process is dead, the scrape failed, the
exporter does not export it) has no value: absent, never zero.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gameday.history import Op, OpKind, OpType
from gameday.metrics.exposition import Sample

__all__ = ["METRICS_PROCESS", "SCRAPE_F", "SERVICE_LABEL", "Across", "MetricQuery", "Scrape", "TargetScrape",
           "scrape_of", "scrapes"]

SERVICE_LABEL = "service"
METRICS_PROCESS = "probe-metrics"
"""``process`` of the metrics probe's ops (:mod:`gameday.metrics.scraper`)."""
SCRAPE_F = "scrape"


class Across(StrEnum):
    """How the values of every series a query selects at one scrape make one value."""

    MAX = "max"
    MIN = "min"
    SUM = "sum"
    COUNT = "count"


_COMBINE: dict[Across, Callable[[list[float]], float]] = {
    Across.MAX: max, Across.MIN: min, Across.SUM: sum, Across.COUNT: lambda values: float(len(values))}


@dataclass(frozen=True)
class TargetScrape:
    ok: bool
    samples: tuple[Sample, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Scrape:
    t_ns: int
    targets: Mapping[str, TargetScrape]

    def selected(self, query: MetricQuery, name: str | None = None) -> list[tuple[str, Sample]]:
        """(service, sample) of every series ``query`` selects (its own name, or ``name``)."""
        wanted = query.name if name is None else name
        return [(service, sample) for service, target in self.targets.items() for sample in target.samples
                if sample.name == wanted and query.labels_match(service, sample.labels)]


@dataclass(frozen=True)
class MetricQuery:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    across: Across = Across.MAX

    def labels_match(self, service: str, labels: Mapping[str, str]) -> bool:
        return all((service if key == SERVICE_LABEL else labels.get(key)) == value
                   for key, value in self.labels.items())

    def at(self, scrape: Scrape) -> float | None:
        """The combined value at one scrape; ``None`` when no series is selected there."""
        values = [sample.value for _, sample in scrape.selected(self)]
        return _COMBINE[self.across](values) if values else None

    def describe(self) -> str:
        labels = ",".join(f'{key}="{value}"' for key, value in sorted(self.labels.items()))
        return f"{self.across}({self.name}{{{labels}}})" if labels else f"{self.across}({self.name})"


def _sample(raw: Any) -> Sample | None:
    if not isinstance(raw, list) or len(raw) != 3:
        return None
    name, labels, value = raw
    if not isinstance(name, str) or not isinstance(labels, dict) or isinstance(value, bool) \
            or not isinstance(value, int | float):
        return None
    return Sample(name, {str(key): str(label) for key, label in labels.items()}, float(value))


def _target(raw: Any) -> TargetScrape:
    if not isinstance(raw, dict) or raw.get("ok") is not True:
        error = raw.get("error") if isinstance(raw, dict) else None
        return TargetScrape(False, error=str(error) if error is not None else json.dumps(raw)[:200])
    samples = raw.get("samples")
    found = (_sample(sample) for sample in samples) if isinstance(samples, list) else ()
    return TargetScrape(True, tuple(sample for sample in found if sample is not None))


def scrape_of(op: Op) -> Scrape | None:
    """The scrape an op records, if it records one."""
    if op.kind != OpKind.METRICS or op.process != METRICS_PROCESS or op.type != OpType.OK:
        return None
    targets = op.value.get("targets")
    if not isinstance(targets, dict):
        return None
    return Scrape(op.t_ns, {str(name): _target(raw) for name, raw in targets.items()})


def scrapes(ops: Sequence[Op]) -> list[Scrape]:
    """Every scrape recorded, in time order."""
    found = (scrape_of(op) for op in ops)
    return sorted((scrape for scrape in found if scrape is not None), key=lambda scrape: scrape.t_ns)
