"""The Prometheus text format, read only for the metric families a run needs.

A scrape keeps a sample when its name is one of the wanted families, or a family's name with one of
the suffixes the text format gives a family's samples (``_total``, ``_bucket``, ``_count``, ``_sum``,
``_created``): the lines of every other family are dropped before parsing, so an exporter's size
costs the harness little. At most :data:`MAX_SAMPLES` samples of one target are kept (the rest
counted as ``dropped``). Non-finite values (``NaN``, ``±Inf``) are not kept: JSON has no room for
them and no bound admits them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["DEFAULT_FAMILIES", "MAX_SAMPLES", "SUFFIXES", "ExpositionError", "Parsed", "Sample",
           "parse_exposition", "sample_names"]

SUFFIXES = ("", "_total", "_bucket", "_count", "_sum", "_created")
MAX_SAMPLES = 500
DEFAULT_FAMILIES = frozenset({
    "oms_up", "oms_active", "oms_open_orders", "oms_store_backlog", "oms_events_backlog",
    "oms_exposure_notional_total", "oms_realized_pnl", "oms_unrealized_pnl", "oms_breaker_tripped",
    "oms_kill_switch_engaged", "oms_feed_age_seconds", "oms_loop_lag_seconds",
    "failover_up", "failover_active_instance", "failover_loop_lag_seconds",
    "venue_up", "venue_open_orders", "venue_sessions_logged_on",
})
"""Scraped in every run: the report's plots and the per-component SLAs read them."""


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float

    def record(self) -> list[object]:
        return [self.name, self.labels, self.value]


@dataclass(frozen=True)
class Parsed:
    samples: tuple[Sample, ...]
    dropped: int  # kept samples beyond MAX_SAMPLES


class ExpositionError(ValueError):
    """The text is not the Prometheus exposition format."""


def sample_names(families: Iterable[str]) -> frozenset[str]:
    """Every sample name the families' samples may carry."""
    return frozenset(family + suffix for family in families for suffix in SUFFIXES)


def _sample_name(line: str) -> str:
    end = len(line)
    for mark in ("{", " ", "\t"):
        found = line.find(mark)
        if found != -1:
            end = min(end, found)
    return line[:end]


def parse_exposition(text: str, wanted: frozenset[str]) -> Parsed:
    """The samples of ``text`` whose names are in ``wanted`` (:func:`sample_names` of the families)."""
    from prometheus_client.parser import text_string_to_metric_families  # scrapes only: not validate's

    kept = "\n".join(line for line in text.splitlines()
                     if line and not line.startswith("#") and _sample_name(line) in wanted)
    samples: list[Sample] = []
    dropped = 0
    try:
        for family in text_string_to_metric_families(kept + "\n"):
            for sample in family.samples:
                if not math.isfinite(sample.value):
                    continue
                if len(samples) >= MAX_SAMPLES:
                    dropped += 1
                    continue
                samples.append(Sample(sample.name, dict(sample.labels), float(sample.value)))
    except (ValueError, TypeError, IndexError) as error:
        raise ExpositionError(f"not the Prometheus text format: {error}") from None
    return Parsed(tuple(samples), dropped)
