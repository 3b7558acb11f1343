"""Order gateway: turns API intents into FIX messages and execution reports into book updates.

It owns the book, the pending acknowledgements and the collectors of queries (mass status,
order status, trade capture), and writes to the venue only through a FixSession whose gate is
the lease check.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

import simplefix

from trading_stack import fix_codec
from trading_stack.book import Book, BookUpdate
from trading_stack.clock import MonotonicNs, monotonic_ns
from trading_stack.fix_client import FixSession, SendRefused, SessionDown
from trading_stack.json_log import current_corr
from trading_stack.models import (
    CancelReject,
    ExecType,
    ExecutionReport,
    Fill,
    NewOrderRequest,
    Order,
    OrderStatus,
)
from trading_stack.order_log import log_order
from trading_stack.trade_capture import TradeCapture, TradeCaptureCollector, TradeCaptureRefused

log = logging.getLogger(__name__)
_Answer = TypeVar("_Answer", ExecutionReport, ExecutionReport | CancelReject)


class BookSink(Protocol):
    """Where order changes and fills go (NATS + Postgres)."""

    def order_changed(self, order: Order) -> None: ...

    def filled(self, fill: Fill, positions: dict[str, int], fill_count: int) -> None: ...

    def stored(self, fill: Fill) -> None:
        """Make sure the database holds ``fill`` (the store skips an exec id it has)."""
        ...


class NotSent(RuntimeError):
    """The message was not sent: no session, or the gate refused."""


@dataclass(frozen=True)
class PlaceResult:
    status: int
    order: Order | None = None
    error: str | None = None
    text: str | None = None


@dataclass
class _MassStatus:
    future: asyncio.Future[list[ExecutionReport]]
    reports: list[ExecutionReport] = field(default_factory=list)

    def add(self, report: ExecutionReport) -> None:
        self.reports.append(report)
        total = report.tot_num_reports
        if (report.last_rpt_requested or (total is not None and len(self.reports) >= total)) and not (
            self.future.done()
        ):
            self.future.set_result(list(self.reports))


class ClOrdIds:
    """``<instance>-<boot>-<n>``: unique across restarts of the same instance."""

    def __init__(self, instance: str, boot: int) -> None:
        self._prefix = f"{instance}-{boot}-"
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter)}"


class OrderGateway:
    def __init__(
        self,
        instance: str,
        boot: int,
        book: Book,
        sink: BookSink,
        ack_timeout_s: float,
        clock: MonotonicNs = monotonic_ns,
        app_gate: Callable[[str], str | None] = lambda _msg_type: None,
    ) -> None:
        self._instance = instance
        self._app_gate = app_gate
        self._book = book
        self._sink = sink
        self._ack_timeout_s = ack_timeout_s
        self._clock = clock
        self._ids = ClOrdIds(instance, boot)
        self._session: FixSession | None = None
        self._acks: dict[str, asyncio.Future[ExecutionReport]] = {}
        self._cancels: dict[str, asyncio.Future[ExecutionReport | CancelReject]] = {}
        self._mass: dict[str, _MassStatus] = {}
        self._mass_counter = itertools.count(1)
        self._statuses: dict[str, asyncio.Future[ExecutionReport | None]] = {}
        self._trade_captures: dict[str, TradeCaptureCollector] = {}
        self._booked_before_live: int | None = None

    @property
    def book(self) -> Book:
        return self._book

    def attach(self, session: FixSession | None) -> None:
        self._session = session
        self._booked_before_live = None

    @property
    def booked_before_live(self) -> int | None:
        """The book's fill count (:attr:`Book.booked`) before the first fill a report on the current
        session booked; None while it booked none: the fills before it came from elsewhere (the
        stream a standby mirrored), not from this session."""
        return self._booked_before_live

    @property
    def session_up(self) -> bool:
        return self._session is not None and self._session.logged_on

    @property
    def pending_requests(self) -> int:
        """Orders and cancels sent whose answer has not come back yet."""
        return len(self._acks) + len(self._cancels)

    # -- sending -----------------------------------------------------------------------
    def _send(self, msg_type: str, body: list[fix_codec.Field]) -> None:
        if self._session is None:
            raise NotSent("no FIX session")
        refusal = self._app_gate(msg_type)
        if refusal is not None:
            raise NotSent(refusal)
        try:
            self._session.send_app(msg_type, body)
        except (SessionDown, SendRefused, OSError) as err:
            raise NotSent(str(err)) from err

    async def _request(
        self,
        waiters: dict[str, asyncio.Future[_Answer]],
        key: str,
        msg_type: str,
        body: list[fix_codec.Field],
        order_id: str,
        on_sent: Callable[[], None] | None = None,
    ) -> _Answer | PlaceResult:
        """Send one message and await the venue's answer to it (delivered through ``waiters[key]``);
        503 when it could not be sent, 504 when the venue did not answer in time."""
        future: asyncio.Future[_Answer] = asyncio.get_running_loop().create_future()
        waiters[key] = future
        try:
            self._send(msg_type, body)
        except NotSent as err:
            waiters.pop(key, None)
            return PlaceResult(503, error=str(err))
        if on_sent is not None:
            on_sent()
        try:
            async with asyncio.timeout(self._ack_timeout_s):
                return await future
        except TimeoutError:
            return PlaceResult(504, order=self._book.get(order_id), error="venue did not answer")
        finally:
            waiters.pop(key, None)

    async def place(self, request: NewOrderRequest) -> PlaceResult:
        """NewOrderSingle; 201 on 150=0, 502 on reject, 504 on timeout, 503 when not sent."""
        cl_ord_id = self._ids.next()
        order = Order(order_id=cl_ord_id, symbol=request.symbol, side=request.side, qty=request.qty,
                      status=OrderStatus.PENDING_NEW, instance=self._instance, price=request.price,
                      ord_type=request.type, corr=current_corr.get())
        body = fix_codec.new_order_body(
            sub_id=self._instance,
            cl_ord_id=cl_ord_id,
            symbol=request.symbol,
            side=request.side,
            qty=request.qty,
            ord_type=request.type,
            price=request.price,
            tif=request.tif,
            transact_time=fix_codec.utc_timestamp(),
        )

        def sent() -> None:
            self._book.add_order(order)
            log_order("order_sent", f"NewOrderSingle {cl_ord_id} sent", order)

        report = await self._request(self._acks, cl_ord_id, "D", body, cl_ord_id, on_sent=sent)
        if isinstance(report, PlaceResult):
            return report
        current = self._book.get(cl_ord_id)
        if report.exec_type is ExecType.REJECTED:
            return PlaceResult(502, order=current, error="venue rejected the order", text=report.text)
        return PlaceResult(201, order=current)

    async def cancel(self, order: Order) -> PlaceResult:
        """OrderCancelRequest; 200 once canceled, 409 on a cancel reject, 504 on timeout."""
        cancel_id = self._ids.next()
        self._book.link_cancel(cancel_id, order.order_id)
        body = fix_codec.cancel_body(
            sub_id=self._instance,
            cl_ord_id=cancel_id,
            orig_cl_ord_id=order.order_id,
            order_id=order.exchange_order_id,
            symbol=order.symbol,
            side=order.side,
            qty=order.qty,
            transact_time=fix_codec.utc_timestamp(),
        )
        answer = await self._request(self._cancels, cancel_id, "F", body, order.order_id)
        if isinstance(answer, PlaceResult):
            return answer
        current = self._book.get(order.order_id)
        if isinstance(answer, CancelReject):
            return PlaceResult(409, order=current, error="cancel rejected", text=answer.text)
        return PlaceResult(200, order=current)

    async def mass_status(self, timeout_s: float) -> list[ExecutionReport]:
        """OrderMassStatusRequest type 7; every order of the firm (raises NotSent/TimeoutError).

        ``timeout_s`` bounds the silence, not the whole answer: a day of tens of thousands of
        orders takes longer than any fixed bound to arrive, and gets it while reports keep coming.
        """
        req_id = f"{self._ids.next()}-ms{next(self._mass_counter)}"
        collector = _MassStatus(asyncio.get_running_loop().create_future())
        self._mass[req_id] = collector
        try:
            self._send("AF", fix_codec.mass_status_body(sub_id=self._instance, req_id=req_id))
            received = -1
            while received != len(collector.reports):
                received = len(collector.reports)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout_s):
                        return await asyncio.shield(collector.future)
            raise TimeoutError(f"mass status: no report for {timeout_s}s after {received} report(s)")
        finally:
            self._mass.pop(req_id, None)

    async def order_status(self, order: Order, timeout_s: float) -> ExecutionReport | None:
        """OrderStatusRequest (H) of one order: its status report, or None when the venue did not
        answer in time or does not serve the request (raises NotSent)."""
        req_id = f"{self._ids.next()}-os"
        future: asyncio.Future[ExecutionReport | None] = asyncio.get_running_loop().create_future()
        self._statuses[req_id] = future
        try:
            self._send("H", fix_codec.order_status_body(
                sub_id=self._instance, req_id=req_id, cl_ord_id=order.order_id,
                order_id=order.exchange_order_id, symbol=order.symbol, side=order.side))
            async with asyncio.timeout(timeout_s):
                return await future
        except TimeoutError:
            return None
        finally:
            self._statuses.pop(req_id, None)

    async def executions_since(
        self, since: datetime, timeout_s: float, until: datetime | None = None
    ) -> list[TradeCapture]:
        """TradeCaptureReportRequest (AD): every execution of the firm since ``since`` (and up to
        ``until``), in the venue's order. Raises NotSent, TradeCaptureRefused, or TimeoutError when
        the venue did not take the request within the ack timeout or answer it within ``timeout_s``."""
        req_id = f"{self._ids.next()}-tc"
        collector = self._trade_captures[req_id] = TradeCaptureCollector.create()
        try:
            self._send("AD", fix_codec.trade_capture_request_body(
                sub_id=self._instance, req_id=req_id, since=since, until=until))
            return await collector.wait(min(self._ack_timeout_s, timeout_s), timeout_s)
        finally:
            self._trade_captures.pop(req_id, None)

    def book_recovered(self, fill: Fill, *, counted: bool, ensure_stored: bool = False) -> bool:
        """Book an execution learnt from trade capture as its live report would have been (the order's
        status and CumQty, the book, then the sink: database and stream). ``counted``: the positions
        hold it already (a mass status counted it in its order's CumQty), so they stay as they are.
        False: booked before; with ``ensure_stored`` it is written to the database all the same (a
        predecessor that streamed a fill may have died before its store wrote it)."""
        before = self._book.position(fill.symbol)
        update = self._book.apply_recovered(fill)
        if update.fill is not None and counted:
            positions = self._book.costed_positions()
            positions[fill.symbol] = before
            self._book.replace_costed_positions(positions)
        elif update.fill is None and ensure_stored:
            self._sink.stored(fill)
        self._publish(update)
        return update.fill is not None

    def _publish(self, update: BookUpdate) -> None:
        """What one report (live or recovered) changed, to the sink: the order, then its fill."""
        if update.order is not None and update.order_changed:
            self._sink.order_changed(update.order)
        if update.fill is not None:
            self._sink.filled(update.fill, self._book.positions, self._book.fill_count)

    # -- receiving ---------------------------------------------------------------------
    def on_app(self, msg: simplefix.FixMessage) -> None:
        kind = fix_codec.msg_type(msg)
        if kind == "8":
            report = fix_codec.parse_execution_report(msg)
            status = self._statuses.get(fix_codec.text(msg, 790) or "")
            if status is not None and report.exec_type is ExecType.ORDER_STATUS:
                if not status.done():
                    status.set_result(report)
                return
            self.on_execution_report(report)
        elif kind == "9":
            self.on_cancel_reject(fix_codec.parse_cancel_reject(msg))
        elif kind in ("AE", "AQ"):
            self._on_trade_capture(kind, msg)
        elif kind == "j":
            self._on_business_reject(msg)
        else:
            log.warning("unhandled application message %s: %s", kind, fix_codec.text(msg, 58))

    def _on_trade_capture(self, kind: str, msg: simplefix.FixMessage) -> None:
        collector = self._trade_captures.get(fix_codec.text(msg, 568) or "")
        if collector is None:
            return
        if kind == "AQ":
            collector.on_ack(fix_codec.parse_trade_capture_ack(msg))
            return
        try:
            collector.on_report(fix_codec.parse_trade_capture(msg))
        except ValueError as err:
            collector.fail(err)

    def _on_business_reject(self, msg: simplefix.FixMessage) -> None:
        """A venue that does not serve a query answers BusinessMessageReject (j) naming its MsgType."""
        ref_type, reason = fix_codec.text(msg, 372), fix_codec.text(msg, 58)
        log.warning("venue rejected a %s: %s", ref_type, reason)
        if ref_type == "AD":
            for collector in self._trade_captures.values():
                collector.fail(TradeCaptureRefused(f"venue does not serve trade capture: {reason}"))
        elif ref_type == "H":
            for future in self._statuses.values():
                if not future.done():
                    future.set_result(None)

    def on_execution_report(self, report: ExecutionReport) -> None:
        if report.exec_type is ExecType.ORDER_STATUS:
            collector = self._mass.get(report.mass_status_req_id or "")
            if collector is not None:
                collector.add(report)
            return
        update = self._book.apply_report(report, self._instance, self._clock())
        if update.fill is not None and self._booked_before_live is None:
            self._booked_before_live = self._book.booked - 1
        self._publish(update)
        ack = self._acks.get(report.cl_ord_id)
        if ack is not None and not ack.done():
            ack.set_result(report)
        cancel = self._cancels.get(report.cl_ord_id)
        if cancel is not None and not cancel.done() and report.exec_type is ExecType.CANCELED:
            cancel.set_result(report)

    def on_cancel_reject(self, reject: CancelReject) -> None:
        key = reject.orig_cl_ord_id
        order = self._book.get(key) if key else None
        status = reject.ord_status
        if order is not None and status is not None and status != order.status and status.is_done:
            updated = order.model_copy(update={"status": status})
            self._book.add_order(updated)
            self._sink.order_changed(updated)
        future = self._cancels.get(reject.cl_ord_id)
        if future is not None and not future.done():
            future.set_result(reject)

    def import_reports(self, reports: list[ExecutionReport]) -> None:
        """Learn every order of a mass status (status, cum qty) without counting fills."""
        self._book.import_reports(reports, self._instance)

    def new_id(self) -> str:
        return self._ids.next()
