"""What a venue shows of itself: ``GET /metrics`` on its admin API, and a JSON log line per order
event (docs/contracts.md, "Observability").

Counts are kept as the ledger records (:class:`LedgerObserver`); they, the open orders and the
logged on sessions are read when scraped. A reading that fails is logged and left out: the scrape answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from mock_exchange.model import Fill, Order, OrderStatus

log = logging.getLogger("mock_exchange.orders")

ORDER_EVENTS = {"order": "order", "cancel": "order_canceled", "replace": "order_replaced"}


class LedgerObserver(Protocol):
    def order_event(self, kind: str, order: Order, exec_id: str, text: str | None) -> None: ...

    def fill_event(self, fill: Fill) -> None: ...


class VenueTelemetry(Collector):
    """One venue's metrics registry (its own, never the global one) and order-event lines.

    The counts are plain integers bumped on the order path (a counter's lock costs more than the
    rest of the bookkeeping) and turned into metric families when scraped."""

    def __init__(self, venue: str, open_orders: Callable[[], int], logged_on: Callable[[], int]) -> None:
        self.venue = venue
        self._open_orders = open_orders
        self._logged_on = logged_on
        self.accepted = self.rejected = self.fills = 0
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def collect(self) -> Iterable[Metric]:
        orders = CounterMetricFamily("venue_orders", "orders received, by outcome", labels=["outcome"])
        orders.add_metric(["accepted"], self.accepted)
        orders.add_metric(["rejected"], self.rejected)
        families: list[Metric] = [GaugeMetricFamily("venue_up", "the venue serves", value=1), orders,
                                  CounterMetricFamily("venue_fills", "executions", value=self.fills)]
        try:
            families.append(GaugeMetricFamily("venue_open_orders", "open orders", value=self._open_orders()))
            families.append(GaugeMetricFamily("venue_sessions_logged_on", "FIX sessions logged on",
                                              value=self._logged_on()))
        except Exception:  # a scrape must answer: what failed is logged and left out
            log.exception("a venue metrics reading failed: left out of this scrape")
        return families

    def order_event(self, kind: str, order: Order, exec_id: str, text: str | None) -> None:
        if kind == "order":
            if order.status is OrderStatus.REJECTED:
                self.rejected += 1
                event = "order_rejected"
            else:
                self.accepted += 1
                event = "order_new"
        else:
            event = ORDER_EVENTS.get(kind, kind)
        if log.isEnabledFor(logging.INFO):
            log.info("%s %s %s", event, order.cl_ord_id, text or "", extra={
                "event": event, "cl_ord_id": order.cl_ord_id, "order_id": order.order_id, "exec_id": exec_id,
                "symbol": order.symbol, "side": order.side.value, "qty": order.qty,
                "detail": {"venue": self.venue, "session": order.sender_comp_id,
                           "status": order.status.value}})

    def fill_event(self, fill: Fill) -> None:
        self.fills += 1
        if log.isEnabledFor(logging.INFO):
            log.info("fill %s %d @ %s", fill.cl_ord_id, fill.qty, fill.price, extra={
                "event": "fill", "cl_ord_id": fill.cl_ord_id, "order_id": fill.order_id,
                "exec_id": fill.exec_id, "symbol": fill.symbol, "side": fill.side.value, "qty": fill.qty,
                "detail": {"venue": self.venue, "price": fill.price}})
