"""Order entry over FIX: NewOrderSingle, OrderCancelRequest and OrderMassStatusRequest in;
ExecutionReport and OrderCancelReject out (contracts §2).

Reports go to the session that entered the order (and to the session that asked, for a
cancel). When the owning session is down, they go to the firm's logged-on sessions instead
(``route_orphan_reports_to_firm``) so a promoted OMS hears about the orders it took over.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Iterable
from typing import TypeVar

from mock_exchange.book import MatchingEngine
from mock_exchange.executions import CancelOutcome, CancelRejection, Execution, NewOrderRequest
from mock_exchange.faults import ReportFaultMode
from mock_exchange.fix import tags
from mock_exchange.fix.checks import (
    INVALID_MSG_TYPE,
    UNSUPPORTED_MESSAGE_TYPE,
    RejectReason,
    send_business_reject,
    send_session_reject,
)
from mock_exchange.fix.codec import Field, FixMessage
from mock_exchange.fix.session import FixSession, SessionRegistry, utc_timestamps
from mock_exchange.fix.tags import FIX44_MSG_TYPES, MsgType
from mock_exchange.ledger import Ledger
from mock_exchange.model import ExecType, Order, OrderStatus, OrdType, Side, TimeInForce

log = logging.getLogger(__name__)
T = TypeVar("T")

SIDE_CODES = {Side.BUY: b"1", Side.SELL: b"2"}
ORD_TYPE_CODES = {OrdType.MARKET: b"1", OrdType.LIMIT: b"2"}
TIF_CODES = {TimeInForce.DAY: b"0", TimeInForce.GTC: b"1", TimeInForce.IOC: b"3"}
ORD_STATUS_CODES = {
    OrderStatus.NEW: b"0",
    OrderStatus.PARTIALLY_FILLED: b"1",
    OrderStatus.FILLED: b"2",
    OrderStatus.CANCELED: b"4",
    OrderStatus.REJECTED: b"8",
}
EXEC_TYPE_CODES = {
    ExecType.NEW: b"0",
    ExecType.TRADE: b"F",
    ExecType.CANCELED: b"4",
    ExecType.REJECTED: b"8",
    ExecType.REPLACED: b"5",
    ExecType.EXPIRED: b"C",
}
ORD_STATUS_EXPIRED = b"C"  # the ledger keeps an expired order as canceled
EXEC_TYPE_ORDER_STATUS = b"I"
MASS_STATUS_ALL_ORDERS = b"7"

_SIDES = {code: side for side, code in SIDE_CODES.items()}
_ORD_TYPES = {code: ord_type for ord_type, code in ORD_TYPE_CODES.items()}
_TIFS = {code: tif for tif, code in TIF_CODES.items()}

# SessionRejectReason(373)
_REQUIRED_TAG_MISSING = 1
_VALUE_INCORRECT = 5
_INCORRECT_DATA_FORMAT = 6


class InvalidFieldError(Exception):
    """A field of an inbound application message is missing or malformed."""

    def __init__(self, tag: int, reason: int, text: str) -> None:
        super().__init__(text)
        self.tag = tag
        self.reason = reason
        self.text = text


def format_price(price: float) -> bytes:
    text = f"{price:.8f}".rstrip("0").rstrip(".")
    return text.encode() if text else b"0"


class FixOrderEntry:
    """The venue's FIX application layer over a :class:`MatchingEngine`."""

    def __init__(
        self,
        engine: MatchingEngine,
        ledger: Ledger,
        sessions: SessionRegistry,
        *,
        route_orphan_reports_to_firm: bool,
    ) -> None:
        self._engine = engine
        self._ledger = ledger
        self._sessions = sessions
        self._route_orphans = route_orphan_reports_to_firm
        self._handlers = {
            MsgType.NEW_ORDER_SINGLE: self._on_new_order,
            MsgType.ORDER_CANCEL_REQUEST: self._on_cancel_request,
            MsgType.ORDER_MASS_STATUS_REQUEST: self._on_mass_status_request,
        }

    def on_app_message(self, session: FixSession, message: FixMessage) -> None:
        seq = int(message.get(tags.MSG_SEQ_NUM) or b"0")
        handler = self._handlers.get(message.msg_type)
        if handler is None:
            if message.msg_type in FIX44_MSG_TYPES:
                send_business_reject(session, message, seq, UNSUPPORTED_MESSAGE_TYPE)
            else:
                send_session_reject(
                    session,
                    message,
                    seq,
                    reason=RejectReason.INVALID_MSG_TYPE,
                    text=INVALID_MSG_TYPE,
                    ref_tag=tags.MSG_TYPE,
                )
            return
        try:
            handler(session, message)
        except InvalidFieldError as error:
            session.send(
                MsgType.REJECT,
                [
                    (tags.REF_SEQ_NUM, b"%d" % seq),
                    (tags.REF_TAG_ID, b"%d" % error.tag),
                    (tags.REF_MSG_TYPE, message.msg_type),
                    (tags.SESSION_REJECT_REASON, b"%d" % error.reason),
                    (tags.TEXT, error.text.encode()),
                ],
            )

    def report(self, executions: Iterable[Execution]) -> None:
        """Send each execution's ExecutionReport to the sessions it concerns."""
        for execution in executions:
            order = execution.order
            fields = self._execution_report(execution)
            for session in self._recipients(order, execution.requested_by):
                self._deliver(session, fields, order.sender_sub_id)

    def _deliver(self, session: FixSession, fields: list[Field], target_sub_id: str | None) -> None:
        """Send one ExecutionReport, as an armed execution-report fault lets it through."""
        fault = self._engine.faults.report_fault(session.sender_comp_id)
        send = functools.partial(session.send, MsgType.EXECUTION_REPORT, fields, target_sub_id=target_sub_id)
        if fault is None:
            send()
        elif fault.mode is ReportFaultMode.DUPLICATE:
            send()
            send()
        elif fault.mode is ReportFaultMode.DELAY:
            asyncio.get_running_loop().call_later(fault.delay_s, send)
        else:
            log.info("execution-report fault: dropping a report to %s", session.sender_comp_id)

    # -- NewOrderSingle --------------------------------------------------------------------

    def _on_new_order(self, session: FixSession, message: FixMessage) -> None:
        request = _new_order_request(session.sender_comp_id, message)
        if self._engine.knows_cl_ord_id(request.cl_ord_id):
            if message.get(tags.POSS_DUP_FLAG) == b"Y":
                log.info("ignoring PossDup NewOrderSingle %s already known", request.cl_ord_id)
                return
            self._reject_duplicate(session, message, request)
            return
        self.report(self._engine.submit(request))

    def _reject_duplicate(self, session: FixSession, message: FixMessage, request: NewOrderRequest) -> None:
        fields: list[Field] = [
            (tags.ORDER_ID, b"NONE"),
            (tags.CL_ORD_ID, request.cl_ord_id.encode()),
            (tags.EXEC_ID, b"DUP-%d" % time.monotonic_ns()),
            (tags.EXEC_TYPE, EXEC_TYPE_CODES[ExecType.REJECTED]),
            (tags.ORD_STATUS, ORD_STATUS_CODES[OrderStatus.REJECTED]),
            (tags.SYMBOL, request.symbol.encode()),
            (tags.SIDE, SIDE_CODES[request.side]),
            (tags.ORDER_QTY, b"%d" % request.qty),
            (tags.CUM_QTY, b"0"),
            (tags.LEAVES_QTY, b"0"),
            (tags.AVG_PX, b"0"),
            (tags.TEXT, f"duplicate ClOrdID {request.cl_ord_id}".encode()),
            (tags.TRANSACT_TIME, utc_timestamps.now()),
        ]
        session.send(MsgType.EXECUTION_REPORT, fields, target_sub_id=message.get_str(tags.SENDER_SUB_ID))

    # -- OrderCancelRequest ----------------------------------------------------------------

    def _on_cancel_request(self, session: FixSession, message: FixMessage) -> None:
        cl_ord_id = _required_str(message, tags.CL_ORD_ID)
        orig_cl_ord_id = _required_str(message, tags.ORIG_CL_ORD_ID)

        def answer(outcome: CancelOutcome) -> None:
            if isinstance(outcome, CancelRejection):
                self._send_cancel_reject(session, message, outcome, cl_ord_id, orig_cl_ord_id)
            else:
                self.report([outcome])

        outcome = self._engine.cancel(
            orig_cl_ord_id,
            order_id=message.get_str(tags.ORDER_ID),
            cancel_cl_ord_id=cl_ord_id,
            requested_by=session.sender_comp_id,
            on_release=answer,
        )
        if outcome is not None:
            answer(outcome)

    def _send_cancel_reject(
        self,
        session: FixSession,
        message: FixMessage,
        rejection: CancelRejection,
        cl_ord_id: str,
        orig_cl_ord_id: str,
    ) -> None:
        order = rejection.order
        status = ORD_STATUS_CODES[order.status] if order else ORD_STATUS_CODES[OrderStatus.REJECTED]
        fields: list[Field] = [
            (tags.ORDER_ID, order.order_id.encode() if order else b"NONE"),
            (tags.CL_ORD_ID, cl_ord_id.encode()),
            (tags.ORIG_CL_ORD_ID, orig_cl_ord_id.encode()),
            (tags.ORD_STATUS, status),
            (tags.CXL_REJ_RESPONSE_TO, b"1"),
            (tags.CXL_REJ_REASON, b"%d" % rejection.reason),
            (tags.TEXT, rejection.text.encode()),
        ]
        session.send(MsgType.ORDER_CANCEL_REJECT, fields, target_sub_id=message.get_str(tags.SENDER_SUB_ID))

    # -- OrderMassStatusRequest ------------------------------------------------------------

    def _on_mass_status_request(self, session: FixSession, message: FixMessage) -> None:
        request_id = _required(message, tags.MASS_STATUS_REQ_ID)
        request_type = _required(message, tags.MASS_STATUS_REQ_TYPE)
        if request_type != MASS_STATUS_ALL_ORDERS:
            raise InvalidFieldError(
                tags.MASS_STATUS_REQ_TYPE, _VALUE_INCORRECT, "only MassStatusReqType 7 is supported"
            )
        orders = list(self._ledger.orders.values())
        if not orders:
            session.send(
                MsgType.EXECUTION_REPORT,
                [
                    (tags.ORDER_ID, b"NONE"),
                    (tags.EXEC_ID, b"MS-%s-NONE" % request_id),
                    (tags.EXEC_TYPE, EXEC_TYPE_ORDER_STATUS),
                    (tags.MASS_STATUS_REQ_ID, request_id),
                    (tags.TOT_NUM_REPORTS, b"0"),
                    (tags.LAST_RPT_REQUESTED, b"Y"),
                ],
            )
            return
        total = b"%d" % len(orders)
        for number, order in enumerate(orders, start=1):
            fields = self._order_fields(order, exec_id=b"MS-%s-%d" % (request_id, number))
            fields[3] = (tags.EXEC_TYPE, EXEC_TYPE_ORDER_STATUS)
            fields += [
                (tags.MASS_STATUS_REQ_ID, request_id),
                (tags.TOT_NUM_REPORTS, total),
                (tags.LAST_RPT_REQUESTED, b"Y" if number == len(orders) else b"N"),
            ]
            session.send(MsgType.EXECUTION_REPORT, fields, target_sub_id=order.sender_sub_id)

    # -- reports ---------------------------------------------------------------------------

    def _execution_report(self, execution: Execution) -> list[Field]:
        order = execution.order
        fields = self._order_fields(order, exec_id=execution.exec_id.encode())
        fields[3] = (tags.EXEC_TYPE, EXEC_TYPE_CODES[execution.exec_type])
        if execution.exec_type is ExecType.EXPIRED:
            fields[4] = (tags.ORD_STATUS, ORD_STATUS_EXPIRED)
        if execution.cancel_cl_ord_id is not None:
            fields[1] = (tags.CL_ORD_ID, execution.cancel_cl_ord_id.encode())
            fields.append((tags.ORIG_CL_ORD_ID, order.cl_ord_id.encode()))
        if execution.exec_type is ExecType.TRADE:
            fields.append((tags.LAST_PX, format_price(execution.last_px)))
            fields.append((tags.LAST_QTY, b"%d" % execution.last_qty))
        if execution.text:
            fields.append((tags.TEXT, execution.text.encode()))
        return fields

    @staticmethod
    def _order_fields(order: Order, *, exec_id: bytes) -> list[Field]:
        """The fields every report of ``order`` carries; index 1 is ClOrdID, 3 is ExecType."""
        fields: list[Field] = [
            (tags.ORDER_ID, order.order_id.encode()),
            (tags.CL_ORD_ID, order.cl_ord_id.encode()),
            (tags.EXEC_ID, exec_id),
            (tags.EXEC_TYPE, b""),
            (tags.ORD_STATUS, ORD_STATUS_CODES[order.status]),
            (tags.SYMBOL, order.symbol.encode()),
            (tags.SIDE, SIDE_CODES[order.side]),
            (tags.ORDER_QTY, b"%d" % order.qty),
            (tags.ORD_TYPE, ORD_TYPE_CODES[order.ord_type]),
            (tags.TIME_IN_FORCE, TIF_CODES[order.tif]),
            (tags.CUM_QTY, b"%d" % order.cum_qty),
            (tags.LEAVES_QTY, b"%d" % order.leaves_qty),
            (tags.AVG_PX, format_price(order.avg_px)),
            (tags.TRANSACT_TIME, utc_timestamps.now()),
        ]
        if order.price is not None:
            fields.append((tags.PRICE, format_price(order.price)))
        return fields

    def _recipients(self, order: Order, requested_by: str | None) -> list[FixSession]:
        recipients: list[FixSession] = []
        requester = self._sessions.get(requested_by) if requested_by else None
        if requester is not None and requester.logged_on:
            recipients.append(requester)
        owner = self._sessions.get(order.sender_comp_id)
        if owner is not None and owner.logged_on:
            if owner is not requester:
                recipients.append(owner)
        elif self._route_orphans:
            recipients += [session for session in self._sessions.logged_on() if session is not requester]
        return recipients


def _new_order_request(sender_comp_id: str, message: FixMessage) -> NewOrderRequest:
    ord_type = _enum_field(message, tags.ORD_TYPE, _ORD_TYPES)
    price_value = message.get(tags.PRICE)
    price: float | None = None
    if price_value is not None:
        try:
            price = float(price_value)
        except ValueError:
            raise InvalidFieldError(tags.PRICE, _INCORRECT_DATA_FORMAT, "Price is not a number") from None
    elif ord_type is OrdType.LIMIT:
        raise InvalidFieldError(tags.PRICE, _REQUIRED_TAG_MISSING, "limit order without Price(44)")
    return NewOrderRequest(
        cl_ord_id=_required_str(message, tags.CL_ORD_ID),
        sender_comp_id=sender_comp_id,
        sender_sub_id=message.get_str(tags.SENDER_SUB_ID),
        symbol=_required_str(message, tags.SYMBOL),
        side=_enum_field(message, tags.SIDE, _SIDES),
        ord_type=ord_type,
        tif=_enum_field(message, tags.TIME_IN_FORCE, _TIFS, default=TimeInForce.DAY),
        price=price,
        qty=_quantity(message, tags.ORDER_QTY),
    )


def _required(message: FixMessage, tag: int) -> bytes:
    value = message.get(tag)
    if not value:
        raise InvalidFieldError(tag, _REQUIRED_TAG_MISSING, f"required tag {tag} missing")
    return value


def _required_str(message: FixMessage, tag: int) -> str:
    return _required(message, tag).decode("latin-1")


def _quantity(message: FixMessage, tag: int) -> int:
    value = _required(message, tag)
    try:
        quantity = float(value)
    except ValueError:
        raise InvalidFieldError(tag, _INCORRECT_DATA_FORMAT, f"tag {tag} is not a number") from None
    if quantity != int(quantity):
        raise InvalidFieldError(tag, _VALUE_INCORRECT, f"tag {tag} must be a whole number of lots")
    return int(quantity)


def _enum_field(message: FixMessage, tag: int, values: dict[bytes, T], default: T | None = None) -> T:
    value = message.get(tag)
    if value is None and default is not None:
        return default
    if value is None:
        raise InvalidFieldError(tag, _REQUIRED_TAG_MISSING, f"required tag {tag} missing")
    member = values.get(value)
    if member is None:
        raise InvalidFieldError(
            tag, _VALUE_INCORRECT, f"unsupported value {value.decode('latin-1')!r} for tag {tag}"
        )
    return member
