"""The OMS's Prometheus metrics (docs/contracts.md, "Observability").

:class:`OrderMetrics` is observed inline on the order path (a counter or histogram child each: no
lookup, no allocation); everything else is read from the instance at scrape time
(:func:`oms_collector`). Defect ``active-gauge-always-on``: ``oms_active`` says 1 whatever the role.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.metrics_core import Metric

from trading_stack.defects import Defect
from trading_stack.deploy.breaker import TripReason
from trading_stack.metrics_http import ReadingCollector, gauge, labelled_gauge
from trading_stack.roles import Role

if TYPE_CHECKING:
    from trading_stack.oms import Oms

__all__ = ["LATENCY_BUCKETS", "OrderMetrics", "oms_collector", "outcome_of"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
AWAITING_FILL_MAX = 10_000  # orders whose first fill is awaited; the oldest is forgotten past it
REFUSALS = frozenset({"halted", "no usable market data", "market data diverged", "market data unusable",
                      "no market data for the symbol", "market data stale"})
"""503 answers that are decisions (a breaker, the market data rules), not an instance unable to trade."""
_NOT_SNAKE = re.compile(r"[^a-z0-9]+")
LOOP_LAG_SAMPLES = 10  # the last second of loop-lag samples


def outcome_of(status: int, error: object) -> tuple[str, str | None]:
    """``accepted``, ``rejected`` (with its reason) or ``failed`` for the answer to a client order."""
    if status < 300:
        return "accepted", None
    refused = status in (400, 409, 422, 502) or (status == 503 and error in REFUSALS)
    if not refused:
        return "failed", None
    reason = _NOT_SNAKE.sub("_", error.lower()).strip("_")[:48] if isinstance(error, str) else ""
    return "rejected", reason or "other"


class OrderMetrics:
    """Client orders: outcomes, reject reasons, request-to-ack and request-to-first-fill latency."""

    def __init__(self, registry: CollectorRegistry) -> None:
        latency = Histogram("oms_order_latency_seconds", "client request to venue ack / to first fill",
                            ["stage"], registry=registry, buckets=LATENCY_BUCKETS)
        self._ack, self._fill = latency.labels("ack"), latency.labels("fill")
        orders = Counter("oms_orders", "client orders by outcome", ["outcome"], registry=registry)
        self._outcomes = {outcome: orders.labels(outcome) for outcome in ("accepted", "rejected", "failed")}
        self._rejects = Counter("oms_rejects", "client orders rejected, by reason", ["reason"],
                                registry=registry)
        self._awaiting_fill: dict[str, float] = {}
        self.last_qty: dict[str, int] = {}
        """the quantity last asked per symbol (the order-size limit's utilisation)"""

    def answered(self, status: int, body: Any, started: float, order_id: str | None, filled: bool) -> None:
        """The client got its answer; ``started``: ``time.monotonic()`` when its request came in."""
        error = body.get("error") if isinstance(body, dict) else None
        outcome, reason = outcome_of(status, error)
        self._outcomes[outcome].inc()
        if reason is not None:
            self._rejects.labels(reason).inc()
        if outcome != "accepted" or order_id is None:
            return
        now = time.monotonic()
        self._ack.observe(now - started)
        if filled:
            self._fill.observe(now - started)
            return
        if len(self._awaiting_fill) >= AWAITING_FILL_MAX:
            self._awaiting_fill.pop(next(iter(self._awaiting_fill)))
        self._awaiting_fill[order_id] = started

    def filled(self, order_id: str) -> None:
        started = self._awaiting_fill.pop(order_id, None)
        if started is not None:
            self._fill.observe(time.monotonic() - started)

    def done(self, order_id: str) -> None:
        self._awaiting_fill.pop(order_id, None)


def _role(oms: Oms) -> Iterable[Metric]:
    active = oms.roles.role is Role.ACTIVE or Defect.ACTIVE_GAUGE_ALWAYS_ON in oms.config.defects
    lag = oms.loop_lag.recent_max_ms(LOOP_LAG_SAMPLES) / 1000.0
    return [gauge("oms_up", "the instance serves", 1),
            gauge("oms_active", "1 when this instance is the active writer", 1 if active else 0),
            gauge("oms_loop_lag_seconds", "event loop lag, worst of the last second", lag)]


def _queues(oms: Oms) -> Iterable[Metric]:
    publisher = oms.streams.publisher
    return [gauge("oms_open_orders", "open orders in the book", len(oms.book.open_orders())),
            gauge("oms_store_backlog", "rows the database writer has not written", oms.store.backlog),
            gauge("oms_events_backlog", "NATS publishes pending",
                  0 if publisher is None else publisher.backlog)]


def _book(oms: Oms) -> Iterable[Metric]:
    positions = oms.book.costed_positions()
    marks = oms.breaker.marks
    mark = {symbol: marks.get(symbol, p.avg_price) for symbol, p in positions.items()}
    exposure = {symbol: p.qty * mark[symbol] for symbol, p in positions.items()}
    lots = {symbol: p.qty for symbol, p in positions.items()}
    return [labelled_gauge("oms_position", "signed quantity", "symbol", lots),
            labelled_gauge("oms_exposure_notional", "signed notional at the mark", "symbol", exposure),
            gauge("oms_exposure_notional_total", "sum of absolute notionals",
                  sum(map(abs, exposure.values()))),
            gauge("oms_realized_pnl", "realised PnL", sum(p.realized_pnl for p in positions.values())),
            gauge("oms_unrealized_pnl", "PnL of the open positions at their marks",
                  sum(p.unrealized_pnl(mark[s]) for s, p in positions.items()))]


def _risk(oms: Oms) -> Iterable[Metric]:
    breaker = oms.breaker.breaker
    trip = breaker.trip
    feeds = oms.market_data
    used: dict[str, float] = {}
    config = breaker.config
    if config is not None and (config.max_loss is not None or config.max_drawdown is not None):
        pnl = oms.breaker.pnl()
        if config.max_loss is not None:
            used["max_loss"] = max(0.0, -pnl) / config.max_loss
        if config.max_drawdown is not None:
            used["max_drawdown"] = max(0.0, breaker.peak_pnl - pnl) / config.max_drawdown
    for symbol, limit in oms.risk.as_dict().items():
        used[f"max_order_qty:{symbol}"] = oms.metrics.last_qty.get(symbol, 0) / limit
    tripped = trip is not None or (feeds is not None and feeds.tripped)
    killed = trip is not None and trip.reason is TripReason.KILL_SWITCH
    return [labelled_gauge("oms_risk_limit_utilisation", "used / limit", "limit", used),
            gauge("oms_breaker_tripped", "a breaker (PnL, kill, feed) is tripped", 1 if tripped else 0),
            gauge("oms_kill_switch_engaged", "the kill switch is engaged", 1 if killed else 0)]


def _feeds(oms: Oms) -> Iterable[Metric]:
    feeds = oms.market_data
    if feeds is None:
        return []
    now = oms.clock()
    ages = {name: state.age_ns(now) for name, state in feeds.states.items()}
    return [labelled_gauge("oms_feed_age_seconds", "time since the feed's last message", "feed",
                           {name: float("inf") if age is None else age / 1e9 for name, age in ages.items()})]


def oms_collector(oms: Oms) -> ReadingCollector:
    """The gauges of ``oms``, read when scraped."""
    readings = (_role, _queues, _book, _risk, _feeds)
    return ReadingCollector(*(functools.partial(reading, oms) for reading in readings))
