"""What a run's readable report shows, as data: a pure function of the history.

:func:`build_report_data` turns the history (and the graded expectations, for the intervals they
measured, such as the RTO) into series, fault windows and lanes, every instant in seconds from
the run's start. Nothing here draws: :mod:`gameday.report.plots` renders this, tests read it, and
the page embeds it as JSON beside the pictures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gameday.history import Op
from gameday.metrics import AlertRule, scrapes
from gameday.report import feed_series, lanes, series
from gameday.report.data_model import (
    Clock,
    FaultWindow,
    Interval,
    Lane,
    LaneItem,
    LaneKind,
    OrderCounts,
    Rates,
    ReportData,
    Series,
)
from gameday.report.metric_series import alert_marks, metric_panels, stop_mark
from gameday.report.trails import order_trails
from gameday.verdict import ExpectationResult

__all__ = [
    "Clock",
    "FaultWindow",
    "Interval",
    "Lane",
    "LaneItem",
    "LaneKind",
    "OrderCounts",
    "Rates",
    "ReportData",
    "Series",
    "build_report_data",
]


def build_report_data(ops: Sequence[Op], expectations: Sequence[ExpectationResult] = (), *,
                      alerts: Sequence[AlertRule] = (), logs: Sequence[dict[str, Any]] = ()) -> ReportData:
    """Everything the report draws; ``expectations`` supply the intervals they measured, ``alerts``
    the scenario's rules (their firings are marked), ``logs`` the collected structured log lines
    (each failed or ghost order's trail)."""
    clock = Clock.of(ops)
    end_s = max(0.0, clock.s(max((op.t_ns for op in ops), default=clock.origin_ns)))
    faults = lanes.fault_windows(ops, clock, end_s)
    latency, counts = series.order_latency(ops, clock)
    fills_t, fills_source = series.fill_times(ops, clock)
    counts = counts.model_copy(update={"fills": len(fills_t) if fills_source else None,
                                       "fills_source": fills_source})
    harness_lag, load = series.harness_samples(ops, clock)
    intervals = lanes.measured_intervals(expectations, clock, end_s)
    feeds = feed_series.feed_names(ops)
    scraped = scrapes(ops)
    return ReportData(
        origin=clock.origin, end_s=end_s, faults=faults, intervals=intervals, latency=latency,
        rates=series.rates(ops, clock, end_s, fills_t),
        probes=series.probe_outcomes(ops, clock),
        lanes=(*lanes.event_lanes(ops, clock, end_s, faults, intervals),
               *lanes.instance_lanes(ops, clock, end_s)),
        replication=series.per_instance(ops, clock, "replication", "lag_ms"),
        loop_lag=(*series.per_instance(ops, clock, "looplag", "max_ms"), *harness_lag),
        load=load, locust=series.load_series(ops, clock), orders=counts, feed_names=feeds,
        feed_age=feed_series.feed_ages(ops, clock),
        selected_feed=feed_series.selected_feeds(ops, clock, feeds),
        scraped=metric_panels(scraped, clock), alerts=alert_marks(scraped, clock, alerts),
        stop=stop_mark(ops, clock),
        trails=order_trails(ops, logs, clock),
    )
