"""Orders, fills and positions (pure: no I/O, no clock)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from trading_stack.deploy.positions import Position, VenueFill, apply_fill
from trading_stack.deploy.versions import BookedFill, OmsVersion, PositionKeeper, build_for
from trading_stack.models import ExecType, ExecutionReport, Fill, Order, OrderStatus, OrdType, Side

UNNAMED_VENUE = "-"  # a trade report without LastMkt(30): the one venue the session talks to
JOURNAL_SIZE = 10_000  # fills remembered for reconciliations racing live reports


@dataclass(frozen=True)
class BookUpdate:
    """What one execution report changed."""

    order: Order | None
    fill: Fill | None
    order_changed: bool
    booked: BookedFill | None = None


def positions_from_reports(reports: Iterable[ExecutionReport]) -> dict[str, int]:
    """Net signed position per symbol from every order's CumQty x side (venue truth)."""
    positions: dict[str, int] = {}
    for report in reports:
        if report.side is None or not report.symbol or report.cum_qty == 0:
            continue
        positions[report.symbol] = positions.get(report.symbol, 0) + report.side.sign * report.cum_qty
    return positions


def costed_positions_from_reports(reports: Iterable[ExecutionReport]) -> dict[str, Position]:
    """Positions with an average cost from every order's CumQty at its AvgPx(6) (venue truth)."""
    positions: dict[str, Position] = {}
    for report in reports:
        if report.side is None or not report.symbol or report.cum_qty == 0:
            continue
        price = report.avg_px or report.price
        held = positions.get(report.symbol, Position(report.symbol))
        if price is None or price <= 0:  # no cost known: count the lots, keep the cost
            positions[report.symbol] = Position(report.symbol, held.qty + report.side.sign * report.cum_qty,
                                                held.avg_price, held.realized_pnl)
            continue
        positions[report.symbol] = apply_fill(held, report.side.sign * report.cum_qty, price)
    return positions


def venue_positions(
    reports: Sequence[ExecutionReport], booked_meanwhile: Iterable[Fill]
) -> dict[str, Position]:
    """Positions from a mass status, plus the fills booked while it was answered that it does not
    count yet (a fill counts when the report's CumQty for its order has reached the fill's)."""
    positions = costed_positions_from_reports(reports)
    counted = {r.cl_ord_id: r.cum_qty for r in reports}
    for fill in booked_meanwhile:
        if fill.cum_qty > counted.get(fill.order_id, 0):
            held = positions.get(fill.symbol, Position(fill.symbol))
            positions[fill.symbol] = apply_fill(held, fill.side.sign * fill.qty, fill.price)
    return positions


def fill_to_venue_fill(fill: Fill) -> VenueFill:
    """The trade report as both OMS builds receive it (unknown quantities read as this trade's)."""
    cum_qty = max(fill.cum_qty, fill.qty)
    return VenueFill(
        exec_id=fill.exec_id, order_id=fill.order_id, venue=fill.venue or UNNAMED_VENUE, symbol=fill.symbol,
        side=fill.side, last_qty=fill.qty, last_px=fill.price, cum_qty=cum_qty,
        order_qty=max(fill.order_qty, cum_qty), t_ns=fill.t_ns,
    )


@dataclass(frozen=True)
class Progress:
    """What one report about an order says of it: its CumQty, its OrdStatus (None: not said) and the
    venue's OrderID."""

    cum_qty: int
    status: OrderStatus | None
    exchange_order_id: str | None


def trade_status(cum_qty: int, order_qty: int) -> OrderStatus:
    """The OrdStatus of a trade report at ``cum_qty`` of ``order_qty`` lots."""
    return OrderStatus.FILLED if order_qty > 0 and cum_qty >= order_qty else OrderStatus.PARTIALLY_FILLED


def advanced(order: Order, progress: Progress) -> Order:
    """``order`` moved on by one report about it, never back: a report whose CumQty is below the
    order's is older than what the book holds (the late report of an execution the drop copy
    booked, an ack after a fill) and sets no status, and a done order stays done."""
    changes: dict[str, object] = {}
    venue_id = progress.exchange_order_id
    if venue_id and venue_id != "NONE" and order.exchange_order_id != venue_id:
        changes["exchange_order_id"] = venue_id
    if progress.cum_qty > order.cum_qty:
        changes["cum_qty"] = progress.cum_qty
    status = progress.status
    older = progress.cum_qty < order.cum_qty or (
        order.status.is_done and status is not None and not status.is_done)
    if status is not None and status != order.status and not older:
        changes["status"] = status
    return order.model_copy(update=changes) if changes else order


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
    """The OMS's view of its orders, fills and positions; positions are kept by the OMS build."""

    def __init__(self, version: OmsVersion = OmsVersion.V1_4_2) -> None:
        self._orders: dict[str, Order] = {}
        self._cancel_origin: dict[str, str] = {}
        self._keeper = PositionKeeper(build_for(version))
        self._fill_count = 0
        self._journal: deque[Fill] = deque(maxlen=JOURNAL_SIZE)
        self._booked = 0

    @property
    def booked(self) -> int:
        """How many fills this book has booked (a mark for :meth:`booked_since`)."""
        return self._booked

    def booked_since(self, mark: int) -> list[Fill]:
        """The fills booked after ``mark`` (as many as the journal still holds)."""
        count = min(self._booked - mark, len(self._journal))
        return list(self._journal)[len(self._journal) - count:] if count > 0 else []

    @property
    def version(self) -> OmsVersion:
        return self._keeper.build.version

    def use_version(self, version: OmsVersion) -> None:
        """Book from now on as ``version`` does (positions so far are kept)."""
        positions = self._keeper.positions
        self._keeper = PositionKeeper(build_for(version))
        self._keeper.replace(positions)

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
        return self._keeper.net_lots()

    def costed_positions(self) -> dict[str, Position]:
        return self._keeper.positions

    def position(self, symbol: str) -> Position:
        return self._keeper.position(symbol)

    @property
    def fill_count(self) -> int:
        return self._fill_count

    # -- writes ------------------------------------------------------------------------
    def add_order(self, order: Order) -> None:
        self._orders[order.order_id] = order

    def link_cancel(self, cancel_cl_ord_id: str, orig_cl_ord_id: str) -> None:
        self._cancel_origin[cancel_cl_ord_id] = orig_cl_ord_id

    def import_reports(self, reports: Iterable[ExecutionReport], instance: str) -> None:
        """Learn every order of a mass status (its status and CumQty: the venue's truth now) without
        counting fills; an order the book did not know is ``instance``'s unless the report names another."""
        for report in reports:
            if report.order_id in (None, "NONE") or not report.cl_ord_id:
                continue
            current = self._orders.get(report.cl_ord_id)
            if current is None:
                self.add_order(order_from_report(report, instance))
                continue
            changes: dict[str, object] = {"cum_qty": max(current.cum_qty, report.cum_qty)}
            if report.ord_status is not None:
                changes["status"] = report.ord_status
            if report.order_id:
                changes["exchange_order_id"] = report.order_id
            self.add_order(current.model_copy(update=changes))

    def replace_positions(self, positions: Mapping[str, int], fill_count: int | None = None) -> None:
        """Net lots learnt without costs (the stream's ``positions``)."""
        self._keeper.replace_lots(positions)
        if fill_count is not None:
            self._fill_count = fill_count

    def replace_costed_positions(self, positions: Mapping[str, Position]) -> None:
        """Positions with their costs (from the venue, the database or a checkpoint)."""
        self._keeper.replace(positions)

    def apply_fill(self, fill: Fill) -> BookedFill | None:
        """Book a fill the way this build does; None when its exec_id was booked already."""
        booked = self._keeper.apply(fill_to_venue_fill(fill))
        if booked is not None:
            self._fill_count += 1
            self._booked += 1
            self._journal.append(fill)
        return booked

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
        created = key is None
        if key is None:
            if report.exec_type is ExecType.CANCELED and report.orig_cl_ord_id:
                order = order_from_report(report, instance).model_copy(
                    update={"order_id": report.orig_cl_ord_id}
                )
            else:
                order = order_from_report(report, instance)
            key = order.order_id
            self._orders[key] = order
        progress = Progress(report.cum_qty, report.ord_status, report.order_id)
        fill = self._fill_from(report, advanced(self._orders[key], progress), t_ns)
        update = self._execute(key, progress, fill)
        return replace(update, order_changed=update.order_changed or created)

    def apply_recovered(self, fill: Fill) -> BookUpdate:
        """Book an execution learnt from the venue (its trade capture) as its live trade report
        would have been: the order's cumulative quantity and status (partially filled, filled) move
        as that report's would, and the fill counts once however often it is learnt."""
        order = self._orders.get(fill.order_id)
        status = None if order is None else trade_status(fill.cum_qty, order.qty)
        return self._execute(fill.order_id, Progress(fill.cum_qty, status, fill.exchange_order_id), fill)

    def _execute(self, key: str, progress: Progress, fill: Fill | None) -> BookUpdate:
        """One report about the order ``key`` (live or recovered): the order moved on, its fill booked."""
        order = self._orders.get(key)
        updated = None if order is None else advanced(order, progress)
        if updated is not None and updated != order:
            self._orders[key] = updated
        booked = self.apply_fill(fill) if fill is not None else None
        return BookUpdate(order=updated, fill=fill if booked else None,
                          order_changed=updated is not None and updated != order, booked=booked)

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
            venue=report.last_mkt,
            cum_qty=report.cum_qty,
            order_qty=report.qty or order.qty,
        )
