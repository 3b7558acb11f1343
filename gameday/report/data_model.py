"""The models of a run's readable report (:mod:`gameday.report.data` builds them)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from gameday.history import Op, OpKind
from gameday.verdict import Verdict

__all__ = [
    "AlertMark",
    "Clock",
    "FaultWindow",
    "Interval",
    "Lane",
    "LaneItem",
    "LaneKind",
    "MetricPanel",
    "OrderCounts",
    "OrderTrail",
    "Rates",
    "ReportData",
    "Series",
    "StopMark",
    "TrailLine",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Clock(_Frozen):
    """Seconds from the run's start (its ``run start`` op, else the first op recorded)."""

    origin: str
    origin_ns: int

    def s(self, t_ns: int) -> float:
        return round((t_ns - self.origin_ns) / 1e9, 3)

    @classmethod
    def of(cls, ops: Sequence[Op]) -> Clock:
        starts = [op.t_ns for op in ops if op.kind == OpKind.RUN and op.f == "start"]
        if starts:
            return cls(origin="run start", origin_ns=min(starts))
        return cls(origin="first recorded op", origin_ns=min((op.t_ns for op in ops), default=0))


class Series(_Frozen):
    """Values over run time: ``values[n]`` was seen at ``t_s[n]``."""

    name: str
    t_s: tuple[float, ...] = ()
    values: tuple[float, ...] = ()

    def __len__(self) -> int:
        return len(self.t_s)


class FaultWindow(_Frozen):
    """One fault the nemesis applied (or failed to): a window up to its heal, or an instant."""

    tag: str
    """``F1``, ``F2``, ...: how the plots and the tables name it."""
    fault_id: str | None
    fault: str
    label: str
    start_s: float
    end_s: float | None
    """When it was healed, or the end of the history if it never was; ``None``: an instant (a kill)."""
    heal_s: float | None = None
    """When its heal was applied; ``None`` for an instant or a fault never healed."""
    applied: bool = True
    params: dict[str, Any] = {}

    @property
    def instant(self) -> bool:
        return self.end_s is None


class Interval(_Frozen):
    """A span an expectation measured (the RTO: outage fault to sustained recovery)."""

    name: str
    label: str
    start_s: float
    end_s: float
    open_ended: bool = False
    """It never ended: drawn up to the end of the history."""
    verdict: Verdict | None = None


class LaneKind(StrEnum):
    EVENTS = "events"
    """Labelled spans and instants, packed in rows so labels never collide."""
    STATES = "states"
    """One state after another (a role, a health reading), one row, coloured by state."""


class LaneItem(_Frozen):
    label: str
    start_s: float
    end_s: float | None = None
    """``None``: an instant."""
    tone: str = "neutral"
    """What it is for the palette: ``ok``, ``fail``, a role, a deploy phase, ..."""
    detail: str = ""


class Lane(_Frozen):
    key: str
    title: str
    kind: LaneKind
    items: tuple[LaneItem, ...] = ()


class OrderCounts(_Frozen):
    placed: int = 0
    ok: int = 0
    failed: int = 0
    unknown: int = 0
    in_flight: int = 0
    """Invoked and never completed before the history ended."""
    top_errors: dict[str, int] = {}
    fills: int | None = None
    fills_source: str = ""


class Rates(_Frozen):
    """Counts per second in buckets of ``bucket_s`` starting at ``starts_s``."""

    bucket_s: float
    starts_s: tuple[float, ...] = ()
    per_second: dict[str, tuple[float, ...]] = {}


class MetricPanel(_Frozen):
    """Scraped series of a few metrics that belong on one plot (exposure, breaker, loop lag, backlog)."""

    key: str
    title: str
    series: tuple[Series, ...] = ()
    """One per metric and service (and label set): ``"<service> <metric>{labels}"``."""


class AlertMark(_Frozen):
    """One interval a scenario alert rule fired, evaluated over the scraped series."""

    name: str
    fired_s: float
    resolved_s: float | None = None
    """``None``: still firing at the last scrape."""


class StopMark(_Frozen):
    """The stop line that aborted the run."""

    t_s: float
    condition: str
    reason: str


class TrailLine(_Frozen):
    """One structured log line of an order's trail; ``t_s`` in run time (from its ``ts``)."""

    t_s: float | None
    service: str
    level: str = ""
    event: str = ""
    msg: str = ""
    ids: dict[str, str] = {}


class OrderTrail(_Frozen):
    """A failed or ghost order followed through every service's log (joined on corr and the ids)."""

    subject: str
    """``cl_ord_id=...`` or ``order_id=...``: what the trail started from."""
    why: str
    lines: tuple[TrailLine, ...] = ()
    more: int = 0
    """Lines of the trail beyond those kept."""


class ReportData(_Frozen):
    origin: str
    end_s: float
    faults: tuple[FaultWindow, ...] = ()
    intervals: tuple[Interval, ...] = ()
    latency: tuple[Series, ...] = ()
    """Client order latency (ms, at the order's send time) by outcome: ok, failed, unknown."""
    rates: Rates
    probes: tuple[Series, ...] = ()
    """Trade-probe latency (ms) per outcome row: ``ok on <instance>``, failed, unknown, venue halted."""
    lanes: tuple[Lane, ...] = ()
    replication: tuple[Series, ...] = ()
    """Replication lag (ms) per instance, from ``sut`` ``replication``."""
    loop_lag: tuple[Series, ...] = ()
    """Event-loop lag (ms): each SUT instance's worst per sample, and the harness's own."""
    load: Series | None = None
    locust: tuple[Series, ...] = ()
    """A scenario's locust load: requests/s, failures/s and p99 (ms) per second (none without one)."""
    orders: OrderCounts = OrderCounts()
    feed_names: tuple[str, ...] = ()
    """The market-data feeds the OMS reported (``oms.feeds``), sorted."""
    feed_age: tuple[Series, ...] = ()
    """Each feed's age (ms) per instance, series ``"<instance> <feed>"``."""
    selected_feed: tuple[Series, ...] = ()
    """Per instance, the index in ``feed_names`` of the feed it had selected (-1: none), per change."""
    scraped: tuple[MetricPanel, ...] = ()
    """The services' own metrics as scraped (``metrics`` ops), by panel."""
    alerts: tuple[AlertMark, ...] = ()
    stop: StopMark | None = None
    trails: tuple[OrderTrail, ...] = ()

    def lane(self, key: str) -> Lane | None:
        return next((lane for lane in self.lanes if lane.key == key), None)
