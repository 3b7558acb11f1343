"""Orders, fills and positions (pure: no I/O, no clock)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from trading_stack.models import ExecType, ExecutionReport, Fill, Order, OrderStatus, OrdType, Side


@dataclass(frozen=True)
class BookUpdate:
    """What one execution report changed."""

    order: Order | None
    fill: Fill | None
    order_changed: bool


def positions_from_reports(reports: Iterable[ExecutionReport]) -> dict[str, int]:
    """Net signed position per symbol from every order's CumQty x side (venue truth)."""
    positions: dict[str, int] = {}
    for report in reports:
        if report.side is None or not report.symbol or report.cum_qty == 0:
            continue
        positions[report.symbol] = positions.get(report.symbol, 0) + report.side.sign * report.cum_qty
    return positions


def order_from_report(report: ExecutionReport, instance: str) -> Order:
    """An Order for a report about an order the book did not know."""
    return Order(
        order_id=report.cl_ord_id,
        exchange_order_id=report.order_id,
        symbol=report.symbol,
        side=report.side or Side.BUY,
        qty=report.qty,
        cum_qty=report.cum_qty,
        status=report.ord_status or OrderStatus.NEW,
        instance=report.owner_sub_id or instance,
        price=report.price,
        ord_type=OrdType.LIMIT if report.price else OrdType.MARKET,
    )


class Book:
    """The OMS's view of its orders, fills and net positions."""

    def __init__(self) -> None:
        self._orders: dict[str, Order] = {}
        self._cancel_origin: dict[str, str] = {}
        self._positions: dict[str, int] = {}
        self._exec_ids: set[str] = set()
        self._fill_count = 0

    # -- reads -------------------------------------------------------------------------
    def get(self, cl_ord_id: str) -> Order | None:
        return self._orders.get(cl_ord_id)

    def knows(self, cl_ord_id: str) -> bool:
        return cl_ord_id in self._orders

    def orders(self) -> list[Order]:
        return list(self._orders.values())

    def open_orders(self) -> list[Order]:
        return [o for o in self._orders.values() if o.status.is_open]

    def known_orders(self) -> Mapping[str, Order]:
        return dict(self._orders)

    @property
    def positions(self) -> dict[str, int]:
        return {symbol: qty for symbol, qty in self._positions.items() if qty != 0}

    @property
    def fill_count(self) -> int:
        return self._fill_count

    # -- writes ------------------------------------------------------------------------
    def add_order(self, order: Order) -> None:
        self._orders[order.order_id] = order

    def link_cancel(self, cancel_cl_ord_id: str, orig_cl_ord_id: str) -> None:
        self._cancel_origin[cancel_cl_ord_id] = orig_cl_ord_id

    def replace_positions(self, positions: Mapping[str, int], fill_count: int | None = None) -> None:
        self._positions = dict(positions)
        if fill_count is not None:
            self._fill_count = fill_count

    def apply_fill(self, fill: Fill) -> bool:
        """Apply a fill (e.g. mirrored from the stream); False when its exec_id was seen."""
        if fill.exec_id in self._exec_ids:
            return False
        self._exec_ids.add(fill.exec_id)
        self._fill_count += 1
        self._positions[fill.symbol] = self._positions.get(fill.symbol, 0) + fill.side.sign * fill.qty
        return True

    def resolve(self, report: ExecutionReport) -> str | None:
        """The ClOrdID of the order a report is about (a cancel's report names the original)."""
        for candidate in (report.cl_ord_id, report.orig_cl_ord_id):
            if candidate is None:
                continue
            if candidate in self._orders:
                return candidate
            origin = self._cancel_origin.get(candidate)
            if origin is not None:
                return origin
        return None

    def apply_report(self, report: ExecutionReport, instance: str, t_ns: int) -> BookUpdate:
        """Apply a live execution report: update the order, record a trade as a fill."""
        key = self.resolve(report)
        if key is None:
            if report.exec_type is ExecType.CANCELED and report.orig_cl_ord_id:
                order = order_from_report(report, instance).model_copy(
                    update={"order_id": report.orig_cl_ord_id}
                )
            else:
                order = order_from_report(report, instance)
            key = order.order_id
            self._orders[key] = order
            changed = True
        else:
            order = self._orders[key]
            changed = False
        updated = self._updated_order(order, report)
        if updated != order:
            self._orders[key] = updated
            changed = True
        fill = self._fill_from(report, updated, t_ns)
        if fill is not None and not self.apply_fill(fill):
            fill = None
        return BookUpdate(order=updated, fill=fill, order_changed=changed)

    @staticmethod
    def _updated_order(order: Order, report: ExecutionReport) -> Order:
        changes: dict[str, object] = {}
        if report.order_id and report.order_id != "NONE" and order.exchange_order_id != report.order_id:
            changes["exchange_order_id"] = report.order_id
        if report.ord_status is not None and report.ord_status != order.status:
            changes["status"] = report.ord_status
        if report.cum_qty > order.cum_qty:
            changes["cum_qty"] = report.cum_qty
        return order.model_copy(update=changes) if changes else order

    @staticmethod
    def _fill_from(report: ExecutionReport, order: Order, t_ns: int) -> Fill | None:
        if report.exec_type is not ExecType.TRADE or report.last_qty <= 0 or not report.exec_id:
            return None
        return Fill(
            exec_id=report.exec_id,
            order_id=order.order_id,
            exchange_order_id=order.exchange_order_id,
            symbol=order.symbol,
            side=order.side,
            qty=report.last_qty,
            price=report.last_px if report.last_px is not None else (order.price or 0.0),
            t_ns=t_ns,
            instance=order.instance,
        )
