"""Order entry over FIX (contracts §2): NewOrderSingle, OrderCancelRequest,
OrderCancelReplaceRequest, OrderMassCancelRequest, OrderStatusRequest,
OrderMassStatusRequest and TradeCaptureReportRequest in; ExecutionReport, OrderCancelReject,
OrderMassCancelReport and the trade capture answers (:mod:`mock_exchange.fix.trade_capture`) out.

Reports go to the session that entered the order (and to the session that asked, for a
cancel or replace). When the owning session is down, they go to the firm's logged-on sessions
instead (``route_orphan_reports_to_firm``) so a promoted OMS hears about the orders it took over.
An order entered over another protocol (a WebSocket account's) is reported to its owner there
(``deliver_elsewhere`` hands it over and says whether it did), and over FIX only to the
session that asked.
An armed execution-report fault may delay, drop or duplicate each report (or each fill's).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import time
from collections.abc import Callable, Iterable

from mock_exchange.book import MatchingEngine
from mock_exchange.executions import (
    CancelOutcome,
    CancelRejection,
    CancelRejectReason,
    Execution,
    NewOrderRequest,
)
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
from mock_exchange.fix.fields import (
    EXEC_TYPE_CODES,
    ORD_STATUS_CODES,
    SIDE_CODES,
    InvalidFieldError,
    execution_report_body,
    new_order_request,
    replace_request,
    required,
    required_str,
)
from mock_exchange.fix.queries import answer_mass_status, answer_order_status
from mock_exchange.fix.session import FixSession, SessionRegistry, utc_timestamps
from mock_exchange.fix.tags import FIX44_MSG_TYPES, MsgType
from mock_exchange.fix.trade_capture import TradeCaptureDesk
from mock_exchange.ledger import Ledger
from mock_exchange.model import ExecType, Order, OrderStatus

log = logging.getLogger(__name__)

CXL_REJ_RESPONSE_TO_CANCEL = b"1"
CXL_REJ_RESPONSE_TO_REPLACE = b"2"
MASS_CANCEL_BY_SYMBOL = b"1"
MASS_CANCEL_ALL = b"7"
MASS_CANCEL_REJECTED = b"0"
MASS_CANCEL_UNKNOWN_SECURITY = b"1"
MASS_CANCEL_OTHER = b"99"

Handler = Callable[[FixSession, FixMessage], None]
# Sends an execution to its order's owner when that is not a FIX session; whether it was not.
DeliverElsewhere = Callable[[Execution], bool]


class FixOrderEntry:
    """The venue's FIX application layer over a :class:`MatchingEngine`."""

    def __init__(
        self,
        engine: MatchingEngine,
        ledger: Ledger,
        sessions: SessionRegistry,
        *,
        route_orphan_reports_to_firm: bool,
        deliver_elsewhere: DeliverElsewhere = lambda execution: False,
    ) -> None:
        self._engine = engine
        self._ledger = ledger
        self._sessions = sessions
        self._route_orphans = route_orphan_reports_to_firm
        self._deliver_elsewhere = deliver_elsewhere
        self._mass_cancel_ids = itertools.count(1)
        self._trade_capture = TradeCaptureDesk(ledger, sessions)
        self._handlers: dict[bytes, Handler] = {
            MsgType.NEW_ORDER_SINGLE: self._on_new_order,
            MsgType.ORDER_CANCEL_REQUEST: self._on_cancel_request,
            MsgType.ORDER_CANCEL_REPLACE_REQUEST: self._on_replace_request,
            MsgType.ORDER_MASS_CANCEL_REQUEST: self._on_mass_cancel_request,
            MsgType.ORDER_STATUS_REQUEST: self._on_status_request,
            MsgType.ORDER_MASS_STATUS_REQUEST: self._on_mass_status_request,
            MsgType.TRADE_CAPTURE_REPORT_REQUEST: self._trade_capture.answer,
        }

    def on_app_message(self, session: FixSession, message: FixMessage) -> None:
        handler = self._handlers.get(message.msg_type)
        if handler is None:
            self._unsupported(session, message, _seq(message))
            return
        try:
            handler(session, message)
        except InvalidFieldError as error:
            send_session_reject(
                session, message, _seq(message), reason=error.reason, text=error.text, ref_tag=error.tag
            )

    @staticmethod
    def _unsupported(session: FixSession, message: FixMessage, seq: int) -> None:
        if message.msg_type in FIX44_MSG_TYPES:
            send_business_reject(session, message, seq, UNSUPPORTED_MESSAGE_TYPE)
            return
        send_session_reject(
            session,
            message,
            seq,
            reason=RejectReason.INVALID_MSG_TYPE,
            text=INVALID_MSG_TYPE,
            ref_tag=tags.MSG_TYPE,
        )

    # -- reports ---------------------------------------------------------------------------

    def report(self, executions: Iterable[Execution]) -> None:
        """Send each execution's ExecutionReport to the sessions it concerns."""
        for execution in executions:
            order = execution.order
            delivered_elsewhere = self._deliver_elsewhere(execution)
            recipients = self._recipients(
                order, execution.requested_by, delivered_elsewhere=delivered_elsewhere
            )
            if recipients:
                body = execution_report_body(execution)
                fill = execution.exec_type is ExecType.TRADE
                for session in recipients:
                    self._deliver(session, body, order.sender_sub_id, fill=fill)

    def _deliver(self, session: FixSession, body: bytes, target_sub_id: str | None, *, fill: bool) -> None:
        """Send one ExecutionReport (``fill``: a trade's), as an armed execution-report fault lets it
        through."""
        faults = self._engine.faults
        fault = faults.report_fault(session.sender_comp_id, fill=fill) if faults.armed else None
        if fault is None:
            session.send_body(MsgType.EXECUTION_REPORT, body, target_sub_id=target_sub_id)
            return
        send = functools.partial(
            session.send_body, MsgType.EXECUTION_REPORT, body, target_sub_id=target_sub_id
        )
        if fault.mode is ReportFaultMode.DUPLICATE:
            send()
            send()
        elif fault.mode is ReportFaultMode.DELAY:
            asyncio.get_running_loop().call_later(fault.delay_s, send)
        else:
            log.info("execution-report fault: dropping a report to %s", session.sender_comp_id)

    def _recipients(
        self, order: Order, requested_by: str | None, *, delivered_elsewhere: bool
    ) -> list[FixSession]:
        recipients: list[FixSession] = []
        requester = self._sessions.get(requested_by) if requested_by else None
        if requester is not None and requester.logged_on:
            recipients.append(requester)
        if delivered_elsewhere:
            return recipients
        owner = self._sessions.get(order.sender_comp_id)
        if owner is not None and owner.logged_on:
            if owner is not requester:
                recipients.append(owner)
        elif self._route_orphans:
            recipients += [session for session in self._sessions.logged_on() if session is not requester]
        return recipients

    # -- NewOrderSingle --------------------------------------------------------------------

    def _on_new_order(self, session: FixSession, message: FixMessage) -> None:
        request = new_order_request(session.sender_comp_id, message)
        if self._engine.knows_cl_ord_id(request.cl_ord_id):
            if message.get(tags.POSS_DUP_FLAG) == b"Y":
                log.info("ignoring PossDup NewOrderSingle %s already known", request.cl_ord_id)
                return
            self._reject_duplicate(session, message, request)
            return
        self.report(self._engine.submit(request))

    @staticmethod
    def _reject_duplicate(session: FixSession, message: FixMessage, request: NewOrderRequest) -> None:
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

    # -- OrderCancelRequest and OrderCancelReplaceRequest ------------------------------------

    def _on_cancel_request(self, session: FixSession, message: FixMessage) -> None:
        cl_ord_id = required_str(message, tags.CL_ORD_ID)
        orig_cl_ord_id = required_str(message, tags.ORIG_CL_ORD_ID)

        def answer(outcome: CancelOutcome) -> None:
            if isinstance(outcome, CancelRejection):
                self._send_cancel_reject(session, message, outcome, CXL_REJ_RESPONSE_TO_CANCEL)
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

    def _on_replace_request(self, session: FixSession, message: FixMessage) -> None:
        request = replace_request(session.sender_comp_id, message)
        if self._engine.knows_cl_ord_id(request.cl_ord_id):
            order = self._engine.find_order(request.orig_cl_ord_id, request.order_id)
            rejection = CancelRejection(
                CancelRejectReason.DUPLICATE_CL_ORD_ID, f"duplicate ClOrdID {request.cl_ord_id}", order
            )
            self._send_cancel_reject(session, message, rejection, CXL_REJ_RESPONSE_TO_REPLACE)
            return
        outcome = self._engine.replace(request)
        if isinstance(outcome, CancelRejection):
            self._send_cancel_reject(session, message, outcome, CXL_REJ_RESPONSE_TO_REPLACE)
        else:
            self.report([outcome])

    @staticmethod
    def _send_cancel_reject(
        session: FixSession, message: FixMessage, rejection: CancelRejection, response_to: bytes
    ) -> None:
        order = rejection.order
        status = ORD_STATUS_CODES[order.status] if order else ORD_STATUS_CODES[OrderStatus.REJECTED]
        fields: list[Field] = [
            (tags.ORDER_ID, order.order_id.encode() if order else b"NONE"),
            (tags.CL_ORD_ID, required(message, tags.CL_ORD_ID)),
            (tags.ORIG_CL_ORD_ID, required(message, tags.ORIG_CL_ORD_ID)),
            (tags.ORD_STATUS, status),
            (tags.CXL_REJ_RESPONSE_TO, response_to),
            (tags.CXL_REJ_REASON, b"%d" % rejection.reason),
            (tags.TEXT, rejection.text.encode()),
        ]
        session.send(MsgType.ORDER_CANCEL_REJECT, fields, target_sub_id=message.get_str(tags.SENDER_SUB_ID))

    # -- OrderMassCancelRequest ------------------------------------------------------------

    def _on_mass_cancel_request(self, session: FixSession, message: FixMessage) -> None:
        cl_ord_id = required(message, tags.CL_ORD_ID)
        request_type = required(message, tags.MASS_CANCEL_REQUEST_TYPE)
        symbol = message.get_str(tags.SYMBOL)
        reject_reason = None
        if request_type not in (MASS_CANCEL_BY_SYMBOL, MASS_CANCEL_ALL):
            reject_reason = MASS_CANCEL_OTHER
        elif request_type == MASS_CANCEL_BY_SYMBOL and symbol not in self._engine.prices:
            reject_reason = MASS_CANCEL_UNKNOWN_SECURITY
        executions: list[Execution] = []
        if reject_reason is None:
            owners = {other.sender_comp_id for other in self._sessions if other.firm == session.firm}
            executions = self._engine.mass_cancel(
                symbol if request_type == MASS_CANCEL_BY_SYMBOL else None,
                requested_by=session.sender_comp_id,
                owners=owners,
            )
        fields: list[Field] = [
            (tags.CL_ORD_ID, cl_ord_id),
            (tags.ORDER_ID, b"MC-%d" % next(self._mass_cancel_ids)),
            (tags.MASS_CANCEL_REQUEST_TYPE, request_type),
            (tags.MASS_CANCEL_RESPONSE, MASS_CANCEL_REJECTED if reject_reason else request_type),
            (tags.TOTAL_AFFECTED_ORDERS, b"%d" % len(executions)),
        ]
        if reject_reason is not None:
            fields.append((tags.MASS_CANCEL_REJECT_REASON, reject_reason))
        if symbol is not None:
            fields.append((tags.SYMBOL, symbol.encode()))
        session.send(
            MsgType.ORDER_MASS_CANCEL_REPORT, fields, target_sub_id=message.get_str(tags.SENDER_SUB_ID)
        )
        self.report(executions)

    # -- queries ---------------------------------------------------------------------------

    def _on_status_request(self, session: FixSession, message: FixMessage) -> None:
        order = self._engine.find_order(required_str(message, tags.CL_ORD_ID), message.get_str(tags.ORDER_ID))
        answer_order_status(session, message, order)

    def _on_mass_status_request(self, session: FixSession, message: FixMessage) -> None:
        answer_mass_status(session, message, list(self._ledger.orders.values()))


def _seq(message: FixMessage) -> int:
    return int(message.get(tags.MSG_SEQ_NUM) or b"0")


class OrderEntryListener:
    """Session events to the order entry only: an acceptor without the venue's ledger lines
    for logons and disconnects (benchmarks and tests of the FIX path in one process)."""

    def __init__(self, order_entry: FixOrderEntry) -> None:
        self._order_entry = order_entry

    def on_logon(self, session: FixSession) -> None: ...

    def on_logon_refused(self, sender_comp_id: str, text: str, *, peer: str = "") -> None: ...

    def on_logout(self, session: FixSession, text: str) -> None: ...

    def on_disconnect(self, session: FixSession, text: str) -> None: ...

    def on_app_message(self, session: FixSession, message: FixMessage) -> None:
        self._order_entry.on_app_message(session, message)
