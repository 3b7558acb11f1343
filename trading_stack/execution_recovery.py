"""Executions the book never heard of, learnt from the venue's trade capture and booked.

A fill the venue executed while no instance of the firm was logged on (between a primary's death
and its successor's logon), or whose report went to another session (a slow predecessor's),
reaches no ExecutionReport here. :class:`ExecutionRecovery` asks the venue for the firm's
executions in a time window (TradeCaptureReportRequest) and books each one whose ExecID the book
lacks through the gateway, as a live fill is booked: the book, the database, the stream.

Positions. A mass status that set the positions counts each order's first CumQty lots; booking
those executions again must not count them twice. So such a mass status *arms* a counted map
(venue OrderID -> CumQty): the next window books an execution that lies within its order's
counted CumQty without moving the positions, and one beyond it as a live fill; then the map is
disarmed (everything the next windows hold happened after that mass status). An execution's
CumQty is its order's running total over the executions seen, in the venue's order, starting
from what the book's own fills of the order say (their CumQty) for the time before the first
window. Assumption: the book knows every execution before the first window (it starts a margin
before the last fill the book knows).

Windows. The first one starts :data:`FIRST_WINDOW_MARGIN_S` before the last fill the book knows
(or at the start of the UTC day when it knows none); each next one :data:`NEXT_WINDOW_MARGIN_S`
before the latest TransactTime seen. Together they cover every execution since the first, and
each costs what happened since the previous one plus the margin, never the whole day.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from trading_stack.book import Book
from trading_stack.clock import MonotonicNs, monotonic_ns
from trading_stack.gateway import OrderGateway
from trading_stack.models import ExecutionReport, Fill
from trading_stack.trade_capture import TradeCapture

FIRST_WINDOW_MARGIN_S = 5.0
NEXT_WINDOW_MARGIN_S = 1.0
YIELD_EVERY = 200  # executions booked between two yields to the event loop

WallClock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Recovered:
    """One window: what the venue reported, what was new to the book, and how many of those the
    positions held already."""

    since: datetime
    reported: int
    booked: list[Fill]
    counted: int

    def detail(self) -> dict[str, object]:
        return {"since": self.since.isoformat(), "reported": self.reported, "recovered": len(self.booked),
                "already_in_positions": self.counted, "exec_ids": [fill.exec_id for fill in self.booked[:20]]}


class ExecutionRecovery:
    """The windows asked so far and the executions seen in them (not safe for concurrent use:
    the caller serialises windows and the mass statuses that arm them)."""

    def __init__(self, book: Book, gateway: OrderGateway, instance: str,
                 clock: MonotonicNs = monotonic_ns, wall: WallClock = utc_now) -> None:
        self._book = book
        self._gateway = gateway
        self._instance = instance
        self._clock = clock
        self._wall = wall
        self._seen: set[str] = set()
        self._seen_order: deque[tuple[datetime, str]] = deque()
        self._order_cum: dict[str, int] = {}  # venue OrderID -> CumQty through the executions seen
        self._cum_before: dict[str, int] | None = None  # CumQty before the first window, by OrderID/ClOrdID
        self._counted: dict[str, int] | None = None
        self._first_since: datetime | None = None
        self._latest: datetime | None = None

    def arm(self, reports: Sequence[ExecutionReport]) -> None:
        """A mass status set the positions: they count each of its orders' CumQty."""
        self._counted = {report.order_id: report.cum_qty for report in reports if report.order_id}

    def next_since(self) -> datetime:
        if self._latest is not None:
            return self._latest - timedelta(seconds=NEXT_WINDOW_MARGIN_S)
        if self._first_since is None:
            self._first_since = self._first_window_start(self._gateway.booked_before_live)
        return self._first_since

    async def recover(self, timeout_s: float, *, ensure_stored: bool = False,
                      known_orders_only: bool = False) -> Recovered:
        """Ask for the next window and book what is new (raises what the gateway raises); with
        ``ensure_stored`` (a promotion) every execution of the window the book knew already is
        written to the database too, idempotently: its writer may have died with it queued. With
        ``known_orders_only`` (the drop copy of a live session) an execution of an order the book
        does not hold is left for a later window, as if not seen: another instance's order is not
        this one's to book while both may trade."""
        since = self.next_since()
        mark = self._book.booked
        captures = await self._gateway.executions_since(since, timeout_s)
        if self._cum_before is None:
            self._cum_before = self._cums_before(mark, {capture.exec_id for capture in captures})
        counted, self._counted = self._counted or {}, None
        offset_ns = self._clock() - _ns(self._wall())
        booked: list[Fill] = []
        already = 0
        for capture in captures:
            if capture.exec_id in self._seen:
                continue
            if known_orders_only and self._book.get(capture.cl_ord_id) is None:
                continue
            self._see(capture)
            cum = self._order_cum.get(capture.order_id)
            if cum is None:
                cum = self._cum_before.get(capture.order_id) or self._cum_before.get(capture.cl_ord_id, 0)
            cum += capture.last_qty
            self._order_cum[capture.order_id] = cum
            in_positions = cum <= counted.get(capture.order_id, 0)
            fill = self._fill(capture, cum, offset_ns)
            if self._gateway.book_recovered(fill, counted=in_positions, ensure_stored=ensure_stored):
                booked.append(fill)
                already += in_positions
                if len(booked) % YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # a long recovery leaves the loop to the session and the API
        self._forget_before(since)
        return Recovered(since, len(captures), booked, already)

    # -- helpers -------------------------------------------------------------------------
    def _first_window_start(self, known: int | None) -> datetime:
        """A margin before the last fill the book knew before its session reported any (the last one
        mirrored, on a promoted standby; its monotonic stamp put on the wall clock), but never
        before the start of the UTC day nor after now."""
        now = self._wall()
        start_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        fills = self._book.booked_since(0)
        if known is not None:
            fills = fills[: max(0, len(fills) - (self._book.booked - known))]
        if not fills:
            return start_of_day
        age_ns = max(0, self._clock() - max(fill.t_ns for fill in fills))
        last = now - timedelta(microseconds=age_ns // 1000)
        return max(start_of_day, last - timedelta(seconds=FIRST_WINDOW_MARGIN_S))

    def _cums_before(self, mark: int, in_window: set[str]) -> dict[str, int]:
        """Each order's CumQty before the first window, from the book's fills booked before it was
        asked for and not in it (keyed by venue OrderID and by ClOrdID)."""
        fills = self._book.booked_since(0)
        after_mark = self._book.booked - mark
        before: list[Fill] = fills[: len(fills) - after_mark] if after_mark > 0 else fills
        cums: dict[str, int] = {}
        for fill in before:
            if fill.exec_id in in_window:
                continue
            for key in (fill.exchange_order_id, fill.order_id):
                if key:
                    cums[key] = max(cums.get(key, 0), fill.cum_qty)
        return cums

    def _see(self, capture: TradeCapture) -> None:
        self._seen.add(capture.exec_id)
        self._seen_order.append((capture.transact_time, capture.exec_id))
        if self._latest is None or capture.transact_time > self._latest:
            self._latest = capture.transact_time

    def _forget_before(self, since: datetime) -> None:
        """Exec ids older than the window just asked can never come back: keep the set bounded."""
        horizon = since - timedelta(seconds=FIRST_WINDOW_MARGIN_S)
        while self._seen_order and self._seen_order[0][0] < horizon:
            self._seen.discard(self._seen_order.popleft()[1])

    def _fill(self, capture: TradeCapture, cum_qty: int, offset_ns: int) -> Fill:
        order = self._book.get(capture.cl_ord_id)
        return Fill(
            exec_id=capture.exec_id,
            order_id=order.order_id if order is not None else capture.cl_ord_id,
            exchange_order_id=capture.order_id,
            symbol=capture.symbol,
            side=capture.side,
            qty=capture.last_qty,
            price=capture.last_px,
            t_ns=_ns(capture.transact_time) + offset_ns,  # when it traded, on this process's clock
            instance=order.instance if order is not None else capture.owner or self._instance,
            venue=capture.last_mkt,
            cum_qty=cum_qty,
            order_qty=capture.order_qty or (order.qty if order is not None else 0),
        )


def _ns(instant: datetime) -> int:
    delta = instant - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000

