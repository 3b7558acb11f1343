"""What a venue shows of itself: ``GET /metrics`` on its admin API, and a JSON log line per order
event (docs/contracts.md, "Observability").

Counters are bumped as the ledger records (:class:`LedgerObserver`); the open orders and the logged
on sessions are read when scraped. A reading that fails is logged and left out: the scrape answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from mock_exchange.model import Fill, Order, OrderStatus

log = logging.getLogger("mock_exchange.orders")

ORDER_EVENTS = {"order": "order", "cancel": "order_canceled", "replace": "order_replaced"}


class LedgerObserver(Protocol):
    def order_event(self, kind: str, order: Order, exec_id: str, text: str | None) -> None: ...

    def fill_event(self, fill: Fill) -> None: ...


class _Gauges(Collector):
    def __init__(self, open_orders: Callable[[], int], logged_on: Callable[[], int]) -> None:
        self._open_orders = open_orders
        self._logged_on = logged_on

    def collect(self) -> Iterable[Metric]:
        families = [GaugeMetricFamily("venue_up", "the venue serves", value=1)]
        try:
            families.append(GaugeMetricFamily("venue_open_orders", "open orders", value=self._open_orders()))
            families.append(GaugeMetricFamily("venue_sessions_logged_on", "FIX sessions logged on",
                                              value=self._logged_on()))
        except Exception:  # a scrape must answer: what failed is logged and left out
            log.exception("a venue metrics reading failed: left out of this scrape")
        return families


class VenueTelemetry:
    """One venue's metrics registry (its own, never the global one) and order-event lines."""

    def __init__(self, venue: str, open_orders: Callable[[], int], logged_on: Callable[[], int]) -> None:
        self.venue = venue
        self.registry = CollectorRegistry(auto_describe=False)
        orders = Counter("venue_orders", "orders received, by outcome", ["outcome"], registry=self.registry)
        self._accepted, self._rejected = orders.labels("accepted"), orders.labels("rejected")
        self._fills = Counter("venue_fills", "executions", registry=self.registry)
        self.registry.register(_Gauges(open_orders, logged_on))

    def order_event(self, kind: str, order: Order, exec_id: str, text: str | None) -> None:
        if kind == "order":
            rejected = order.status is OrderStatus.REJECTED
            (self._rejected if rejected else self._accepted).inc()
            event = "order_rejected" if rejected else "order_new"
        else:
            event = ORDER_EVENTS.get(kind, kind)
        if log.isEnabledFor(logging.INFO):
            log.info("%s %s %s", event, order.cl_ord_id, text or "", extra={
                "event": event, "cl_ord_id": order.cl_ord_id, "order_id": order.order_id, "exec_id": exec_id,
                "symbol": order.symbol, "side": order.side.value, "qty": order.qty,
                "detail": {"venue": self.venue, "session": order.sender_comp_id,
                           "status": order.status.value}})

    def fill_event(self, fill: Fill) -> None:
        self._fills.inc()
        if log.isEnabledFor(logging.INFO):
            log.info("fill %s %d @ %s", fill.cl_ord_id, fill.qty, fill.price, extra={
                "event": "fill", "cl_ord_id": fill.cl_ord_id, "order_id": fill.order_id,
                "exec_id": fill.exec_id, "symbol": fill.symbol, "side": fill.side.value, "qty": fill.qty,
                "detail": {"venue": self.venue, "price": fill.price}})
