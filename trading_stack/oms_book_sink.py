"""Where the OMS's order changes and fills go once the book has them: the order log, the
latency metrics, the store, the NATS stream (with the deploy output of each fill), the breaker
of an active instance and the pricing off the feeds. The gateway's :class:`~trading_stack.gateway.BookSink`;
part of :class:`~trading_stack.oms.Oms`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from trading_stack.book import Book
from trading_stack.breaker_runtime import BreakerRuntime
from trading_stack.clock import MonotonicNs
from trading_stack.deploy.outputs import OUTPUTS_SUBJECT, output_for
from trading_stack.models import Fill, Order
from trading_stack.oms_metrics import OrderMetrics
from trading_stack.oms_streams import OmsStreams
from trading_stack.order_log import log_fill, log_order
from trading_stack.roles import Role, RoleMachine
from trading_stack.store import Store

if TYPE_CHECKING:
    from trading_stack.market_data.runtime import MarketData


class BookSinkHost(Protocol):
    """What the book sink needs of the OMS."""

    @property
    def instance(self) -> str: ...

    @property
    def book(self) -> Book: ...

    @property
    def clock(self) -> MonotonicNs: ...

    @property
    def roles(self) -> RoleMachine: ...

    @property
    def metrics(self) -> OrderMetrics: ...

    @property
    def store(self) -> Store: ...

    @property
    def streams(self) -> OmsStreams: ...

    @property
    def breaker(self) -> BreakerRuntime: ...

    @property
    def market_data(self) -> MarketData | None: ...


class OmsBookSink:
    """Hands each order change and fill of the book to everything that keeps or reacts to it."""

    def __init__(self, host: BookSinkHost) -> None:
        self._host = host

    def order_changed(self, order: Order) -> None:
        host = self._host
        status = order.status.value
        log_order(f"order_{status}", f"order {status} ({order.cum_qty} filled)", order)
        if order.status.is_done:
            host.metrics.done(order.order_id)
        host.store.save_order(order)
        if host.streams.publisher is not None:
            host.streams.publisher.order(order)

    def stored(self, fill: Fill) -> None:
        self._host.store.save_fill(fill)

    def filled(self, fill: Fill, positions: dict[str, int], fill_count: int) -> None:
        host = self._host
        order = host.book.get(fill.order_id)
        log_fill(fill, None if order is None else order.corr)
        host.metrics.filled(fill.order_id)
        host.store.save_fill(fill)
        publisher = host.streams.publisher
        if publisher is not None:
            publisher.fill(fill)
            publisher.positions(positions, fill_count)
            output = output_for(host.instance, host.book.version, fill, host.book.position(fill.symbol),
                                host.clock())
            publisher.output(OUTPUTS_SUBJECT, output.model_dump(mode="json"))
        if host.roles.role is Role.ACTIVE:
            host.breaker.on_fill(fill)
        if host.market_data is not None:
            host.market_data.on_fill(fill)
