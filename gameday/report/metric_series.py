"""The services' scraped metrics as the report draws them: panels of series, alert firings, the stop.

Each panel gathers a few metric families (:data:`PANELS`), one series per service and label set, its
values at each scrape that had it (a failed scrape leaves a gap). Alert firings are the scenario's
rules evaluated over the scrapes (:mod:`gameday.metrics.rules`); the stop is the run's ``stop`` op.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from gameday.history import STOP_F, Op, OpKind
from gameday.metrics import AlertRule, Scrape, firings
from gameday.report.data_model import AlertMark, Clock, MetricPanel, Series, StopMark

__all__ = ["MAX_SERIES", "PANELS", "alert_marks", "metric_panels", "stop_mark"]

PANELS = (
    ("exposure", "Exposure and P&L",
     ("oms_exposure_notional_total", "oms_realized_pnl", "oms_unrealized_pnl")),
    ("breaker", "Breaker, kill switch and active instance",
     ("oms_breaker_tripped", "oms_kill_switch_engaged", "oms_active")),
    ("looplag", "Loop lag (s)", ("oms_loop_lag_seconds", "failover_loop_lag_seconds")),
    ("backlog", "Queues: store and events backlog, open orders",
     ("oms_store_backlog", "oms_events_backlog", "oms_open_orders", "venue_open_orders")),
)
"""(key, title, the sample names it draws)."""
MAX_SERIES = 12
MAX_ALERT_MARKS = 50


def _label(service: str, name: str, labels: dict[str, str]) -> str:
    inner = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
    return f"{service} {name}{{{inner}}}" if inner else f"{service} {name}"


def metric_panels(scraped: Sequence[Scrape], clock: Clock) -> tuple[MetricPanel, ...]:
    """The :data:`PANELS` over the run's scrapes (:func:`gameday.metrics.scrapes`)."""
    panels = []
    for key, title, names in PANELS:
        points: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for scrape in scraped:
            t_s = clock.s(scrape.t_ns)
            for service, target in scrape.targets.items():
                for sample in target.samples:
                    if sample.name in names:
                        points[_label(service, sample.name, sample.labels)].append((t_s, sample.value))
        series = tuple(Series(name=label, t_s=tuple(t for t, _ in found), values=tuple(v for _, v in found))
                       for label, found in sorted(points.items())[:MAX_SERIES])
        if series:
            panels.append(MetricPanel(key=key, title=title, series=series))
    return tuple(panels)


def alert_marks(scraped: Sequence[Scrape], clock: Clock, rules: Sequence[AlertRule]) -> tuple[AlertMark, ...]:
    if not scraped:
        return ()
    marks = [AlertMark(name=rule.name, fired_s=clock.s(firing.fired_ns),
                       resolved_s=None if firing.resolved_ns is None else clock.s(firing.resolved_ns))
             for rule in rules for firing in firings(rule.condition, scraped)]
    return tuple(sorted(marks, key=lambda mark: mark.fired_s)[:MAX_ALERT_MARKS])


def stop_mark(ops: Sequence[Op], clock: Clock) -> StopMark | None:
    stop = next((op for op in ops if op.kind == OpKind.RUN and op.f == STOP_F), None)
    if stop is None:
        return None
    return StopMark(t_s=clock.s(stop.t_ns), condition=str(stop.value.get("condition", "")),
                    reason=str(stop.value.get("reason", "")))
