"""The OMS proper: the orders it sent, the fills it booked, the positions they add up to.

It starts from its journal and nothing else (see the README: no reconciliation with the venue
at start, on purpose). While it runs it is exact: every fill is booked once (by ``exec_id``,
in memory and by the journal's primary key), and a reconnect or a gap in the execution events'
``seq`` triggers a resync that books the fills it missed *since this process started* and
closes the orders the venue no longer has open.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from .journal import Journal
from .model import Fill, Order, OrderRequest, OrderType, Status, Tif, advance
from .venue_frames import ExecType, Execution, Frame, FrameError, VenueFill, VenueOrder, read_list
from .venue_link import NoAnswerError, VenueError, VenueUnavailableError

log = logging.getLogger(__name__)


class VenuePort(Protocol):
    """What the desk needs of the venue connection (a fake one in a unit test)."""

    @property
    def authenticated(self) -> bool: ...

    async def request(self, op: str, **fields: Any) -> Frame: ...


class DrainingError(Exception):
    """The OMS is shutting down and takes no new order."""


class UnknownOrderError(Exception):
    """No such order (here, or at the venue)."""


class OrderDoneError(Exception):
    """The order is filled, canceled or rejected already."""

    def __init__(self, order: Order) -> None:
        super().__init__(f"order {order.order_id} is {order.status.value}")
        self.order = order


class RejectedError(Exception):
    """The venue refused the order or the cancel; ``order`` as it stands now."""

    def __init__(self, order: Order, reason: str) -> None:
        super().__init__(reason)
        self.order = order
        self.reason = reason


class Desk:
    """Orders, fills and positions of one OMS instance, kept in step with its journal."""

    def __init__(
        self,
        instance: str,
        journal: Journal,
        venue: VenuePort,
        *,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.instance = instance
        self._journal = journal
        self._venue = venue
        self._clock = clock
        self._started_ns = clock()
        self._boot = format(time.time_ns() // 1_000_000, "x")
        self._next_number = itertools.count(1)
        self._orders: dict[str, Order] = {}
        self._booked: set[str] = set()
        self._positions: dict[str, int] = {}
        self._resync_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.restored = False
        self.draining = False

    # -- state ----------------------------------------------------------------------------

    def restore(self) -> None:
        """Orders and positions from the journal: all this OMS will ever know of its past."""
        snapshot = self._journal.load()
        self._orders = {order.order_id: order for order in snapshot.orders}
        for fill in snapshot.fills:
            self._count(fill)
        self.restored = True
        log.info(
            "restored %d orders (%d open) and %d fills from the journal; positions %s",
            len(self._orders),
            sum(order.is_open for order in self._orders.values()),
            len(self._booked),
            self._positions,
        )

    @property
    def venue_authenticated(self) -> bool:
        return self._venue.authenticated

    @property
    def fill_count(self) -> int:
        return len(self._booked)

    def positions(self) -> dict[str, int]:
        return dict(self._positions)

    def orders(self, *, open_only: bool = False, status: Status | None = None) -> list[Order]:
        return [
            order
            for order in self._orders.values()
            if (not open_only or order.is_open) and status in (None, order.status)
        ]

    def drain(self) -> None:
        self.draining = True
        for task in list(self._tasks):
            task.cancel()

    # -- client requests ------------------------------------------------------------------

    async def place(self, request: OrderRequest) -> Order:
        """Send an order; the order once the venue acknowledged it.

        Raises DrainingError, VenueUnavailableError (not sent), NoAnswerError (outcome unknown: the
        order stays ``pending_new`` until an event or a resync settles it), RejectedError, FrameError.
        """
        if self.draining:
            raise DrainingError("draining")
        if not self._venue.authenticated:
            raise VenueUnavailableError("not connected to the venue")
        order = Order(
            order_id=f"{self.instance}-{self._boot}-{next(self._next_number)}",
            symbol=request.symbol,
            side=request.side,
            type=request.type,
            tif=request.tif,
            qty=request.qty,
            price=request.price,
            instance=self.instance,
        )
        self._orders[order.order_id] = order
        self._journal.save_order(order)  # before sending: a successor knows of it whatever happens next
        fields: dict[str, Any] = {
            "client_order_id": order.order_id,
            "symbol": order.symbol,
            "side": order.side.value,
            "type": order.type.value,
            "qty": order.qty,
            "tif": order.tif.value,
            "sub_id": self.instance,
        }
        if order.type is OrderType.LIMIT:
            fields["price"] = order.price
        try:
            answer = await self._venue.request("place", **fields)
        except VenueUnavailableError:
            self._close(order, Status.REJECTED, "not sent: the venue connection was down")
            raise
        except VenueError as error:  # refused before it reached the book (e.g. duplicate id)
            self._close(order, Status.REJECTED, str(error))
            raise RejectedError(order, str(error)) from None
        # NoAnswerError propagates: the order stays pending_new, its events will tell
        self._apply(order, VenueOrder.read(answer.get("order")))
        if order.status is Status.REJECTED:
            raise RejectedError(order, order.text or "rejected by the venue")
        return order

    async def cancel(self, order_id: str) -> Order:
        """Cancel an open order; the order once the venue canceled it."""
        order = self._orders.get(order_id)
        if order is None:
            raise UnknownOrderError(order_id)
        if not order.is_open:
            raise OrderDoneError(order)
        if self.draining:
            raise DrainingError("draining")
        try:
            answer = await self._venue.request("cancel", client_order_id=order_id)
        except VenueError as error:
            if error.code == "unknown_order":
                raise UnknownOrderError(f"{order_id}: the venue does not know it") from None
            if error.code == "too_late_to_cancel":
                raise OrderDoneError(order) from None
            raise RejectedError(order, str(error)) from None
        self._apply(order, VenueOrder.read(answer.get("order")))
        return order

    # -- what the venue pushes ------------------------------------------------------------

    def on_execution(self, frame: Frame) -> None:
        try:
            event = Execution.read(frame)
        except FrameError as error:
            log.warning("ignored an execution event the OMS cannot read (%s)", error)
            return
        order = self._orders.get(event.order.client_order_id) or self._adopt(event.order)
        if event.exec_type is not ExecType.TRADE:
            self._apply(order, event.order)
            return
        fill = Fill(
            exec_id=event.exec_id,
            order_id=order.order_id,
            symbol=event.order.symbol,
            side=event.order.side,
            qty=event.last_qty,
            price=event.last_px,
            t_ns=self._clock(),
        )
        self._book(fill, order, event.order)

    def on_gap(self, expected: int, received: int) -> None:
        log.warning("execution events %d..%d were lost: resyncing", expected, received - 1)
        self._spawn(self.resync("sequence gap"))

    async def on_session(self, first: bool) -> None:
        if first:
            # The weakness, on purpose: the journal is taken as the truth at start.
            log.info("first venue session of this process: no reconciliation, the journal stands")
            return
        await self.resync("reconnected")

    async def resync(self, reason: str) -> None:
        """Book the fills missed since this process started; close orders the venue no longer has open."""
        async with self._resync_lock:
            try:
                fills_answer = await self._venue.request("fills")
                fills = [VenueFill.read(item) for item in read_list(fills_answer, "fills")]
                open_answer = await self._venue.request("open_orders")
                views = [VenueOrder.read(item) for item in read_list(open_answer, "orders")]
            except (VenueUnavailableError, NoAnswerError, VenueError, FrameError) as error:
                log.warning("resync (%s) failed: %s; the next reconnect or gap retries", reason, error)
                return
            booked = self._book_missed(fills)
            closed = self._close_missing(views, fills)
            log.info("resync (%s): %d missed fills booked, %d orders closed", reason, booked, closed)

    # -- internals ------------------------------------------------------------------------

    def _book_missed(self, fills: list[VenueFill]) -> int:
        booked = 0
        for item in fills:
            if item.exec_id in self._booked or item.t_ns < self._started_ns:
                continue  # booked already, or from before this process: the journal's business
            order = self._orders.get(item.client_order_id)
            fill = Fill(
                item.exec_id, item.client_order_id, item.symbol, item.side, item.qty, item.price, item.t_ns
            )
            booked += self._book(fill, order, None)
        return booked

    def _close_missing(self, open_views: list[VenueOrder], fills: list[VenueFill]) -> int:
        open_at_venue = {view.client_order_id: view for view in open_views}
        filled_at_venue = Counter[str]()
        for fill in fills:
            filled_at_venue[fill.client_order_id] += fill.qty
        closed = 0
        for order in self.orders(open_only=True):
            view = open_at_venue.get(order.order_id)
            if view is not None:
                self._apply(order, view)
                continue
            order.cum_qty = max(order.cum_qty, filled_at_venue[order.order_id])
            status = Status.FILLED if order.cum_qty >= order.qty else Status.CANCELED
            self._close(order, status, "not open at the venue on resync")
            closed += 1
        return closed

    def _book(self, fill: Fill, order: Order | None, view: VenueOrder | None) -> int:
        """Book a fill unless booked already; 1 if it was booked now."""
        if fill.exec_id in self._booked:
            log.info("fill %s was booked already (duplicate report)", fill.exec_id)
            return 0
        if order is not None and view is not None:
            self._merge(order, view)
        if not self._journal.book_fill(fill, order):
            return 0
        self._count(fill)
        return 1

    def _count(self, fill: Fill) -> None:
        self._booked.add(fill.exec_id)
        self._positions[fill.symbol] = self._positions.get(fill.symbol, 0) + fill.signed_qty

    def _apply(self, order: Order, view: VenueOrder) -> None:
        self._merge(order, view)
        self._journal.save_order(order)

    @staticmethod
    def _merge(order: Order, view: VenueOrder) -> None:
        order.exchange_order_id = view.order_id
        order.status = advance(order.status, view.status)
        order.cum_qty = max(order.cum_qty, view.cum_qty)
        order.text = view.text or order.text

    def _close(self, order: Order, status: Status, text: str) -> None:
        order.status = advance(order.status, status)
        order.text = text
        self._journal.save_order(order)

    def _adopt(self, view: VenueOrder) -> Order:
        """An order of the account this OMS did not send (another writer): tracked from now on."""
        log.warning("adopting order %s of %s, unknown to this OMS", view.client_order_id, view.sub_id)
        order = Order(
            order_id=view.client_order_id,
            symbol=view.symbol,
            side=view.side,
            type=OrderType.MARKET if view.type == OrderType.MARKET.value else OrderType.LIMIT,
            tif=next((tif for tif in Tif if tif.value == view.tif), Tif.DAY),
            qty=view.qty,
            price=view.price,
            instance=view.sub_id,
        )
        self._orders[order.order_id] = order
        return order

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
