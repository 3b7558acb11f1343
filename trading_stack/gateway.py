"""Order gateway: turns API intents into FIX messages and execution reports into book updates.

It owns the book, the pending acknowledgements and mass-status collectors, and writes to
the venue only through a FixSession whose gate is the lease check.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import simplefix

from trading_stack import fix_codec
from trading_stack.book import Book, order_from_report
from trading_stack.clock import MonotonicNs, monotonic_ns
from trading_stack.fix_client import FixSession, SendRefused, SessionDown
from trading_stack.models import (
    CancelReject,
    ExecType,
    ExecutionReport,
    Fill,
    NewOrderRequest,
    Order,
    OrderStatus,
)

log = logging.getLogger(__name__)
_Answer = TypeVar("_Answer", ExecutionReport, ExecutionReport | CancelReject)


class BookSink(Protocol):
    """Where order changes and fills go (NATS + Postgres)."""

    def order_changed(self, order: Order) -> None: ...

    def filled(self, fill: Fill, positions: dict[str, int], fill_count: int) -> None: ...


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

    @property
    def book(self) -> Book:
        return self._book

    def attach(self, session: FixSession | None) -> None:
        self._session = session

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
        order = Order(
            order_id=cl_ord_id,
            symbol=request.symbol,
            side=request.side,
            qty=request.qty,
            status=OrderStatus.PENDING_NEW,
            instance=self._instance,
            price=request.price,
            ord_type=request.type,
        )
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
        report = await self._request(self._acks, cl_ord_id, "D", body, cl_ord_id,
                                     on_sent=lambda: self._book.add_order(order))
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
        """OrderMassStatusRequest type 7; every order of the firm (raises NotSent/TimeoutError)."""
        req_id = f"{self._ids.next()}-ms{next(self._mass_counter)}"
        collector = _MassStatus(asyncio.get_running_loop().create_future())
        self._mass[req_id] = collector
        try:
            self._send("AF", fix_codec.mass_status_body(sub_id=self._instance, req_id=req_id))
            async with asyncio.timeout(timeout_s):
                return await collector.future
        finally:
            self._mass.pop(req_id, None)

    # -- receiving ---------------------------------------------------------------------
    def on_app(self, msg: simplefix.FixMessage) -> None:
        kind = fix_codec.msg_type(msg)
        if kind == "8":
            self.on_execution_report(fix_codec.parse_execution_report(msg))
        elif kind == "9":
            self.on_cancel_reject(fix_codec.parse_cancel_reject(msg))
        else:
            log.warning("unhandled application message %s: %s", kind, fix_codec.text(msg, 58))

    def on_execution_report(self, report: ExecutionReport) -> None:
        if report.exec_type is ExecType.ORDER_STATUS:
            collector = self._mass.get(report.mass_status_req_id or "")
            if collector is not None:
                collector.add(report)
            return
        update = self._book.apply_report(report, self._instance, self._clock())
        if update.order is not None and update.order_changed:
            self._sink.order_changed(update.order)
        if update.fill is not None:
            self._sink.filled(update.fill, self._book.positions, self._book.fill_count)
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
        for report in reports:
            if report.order_id in (None, "NONE") or not report.cl_ord_id:
                continue
            current = self._book.get(report.cl_ord_id)
            if current is None:
                self._book.add_order(order_from_report(report, self._instance))
                continue
            changes: dict[str, object] = {"cum_qty": max(current.cum_qty, report.cum_qty)}
            if report.ord_status is not None:
                changes["status"] = report.ord_status
            if report.order_id:
                changes["exchange_order_id"] = report.order_id
            self._book.add_order(current.model_copy(update=changes))

    def new_id(self) -> str:
        return self._ids.next()
