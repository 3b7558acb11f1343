"""Read-only order queries over FIX: OrderStatusRequest (H) and OrderMassStatusRequest (AF).

Both answer with ExecutionReports of ExecType I (order status); neither changes the ledger.
"""

from __future__ import annotations

from mock_exchange.fix import tags
from mock_exchange.fix.checks import RejectReason
from mock_exchange.fix.codec import FixMessage
from mock_exchange.fix.fields import (
    EXEC_TYPE_ORDER_STATUS,
    ORD_STATUS_CODES,
    InvalidFieldError,
    required,
    status_report_fields,
)
from mock_exchange.fix.session import FixSession
from mock_exchange.fix.tags import MsgType
from mock_exchange.model import Order, OrderStatus

MASS_STATUS_ALL_ORDERS = b"7"


def answer_order_status(session: FixSession, message: FixMessage, order: Order | None) -> None:
    """One status report of the order asked about; an unknown order gets OrdStatus rejected."""
    cl_ord_id = required(message, tags.CL_ORD_ID)
    request_id = message.get(tags.ORD_STATUS_REQ_ID)
    if order is None:
        fields = [
            (tags.ORDER_ID, message.get(tags.ORDER_ID) or b"NONE"),
            (tags.CL_ORD_ID, cl_ord_id),
            (tags.EXEC_ID, b"ST-%s" % cl_ord_id),
            (tags.EXEC_TYPE, EXEC_TYPE_ORDER_STATUS),
            (tags.ORD_STATUS, ORD_STATUS_CODES[OrderStatus.REJECTED]),
            (tags.SYMBOL, message.get(tags.SYMBOL) or b"NONE"),
            (tags.SIDE, message.get(tags.SIDE) or b"1"),
            (tags.LEAVES_QTY, b"0"),
            (tags.CUM_QTY, b"0"),
            (tags.AVG_PX, b"0"),
            (tags.TEXT, b"unknown order"),
        ]
        target_sub_id = message.get_str(tags.SENDER_SUB_ID)
    else:
        fields = status_report_fields(order, b"ST-%s-%d" % (order.order_id.encode(), len(order.events)))
        target_sub_id = order.sender_sub_id
    if request_id is not None:
        fields.append((tags.ORD_STATUS_REQ_ID, request_id))
    session.send(MsgType.EXECUTION_REPORT, fields, target_sub_id=target_sub_id)


def answer_mass_status(session: FixSession, message: FixMessage, orders: list[Order]) -> None:
    """One status report per order of the firm (type 7), the last one flagged LastRptRequested."""
    request_id = required(message, tags.MASS_STATUS_REQ_ID)
    if required(message, tags.MASS_STATUS_REQ_TYPE) != MASS_STATUS_ALL_ORDERS:
        raise InvalidFieldError(
            tags.MASS_STATUS_REQ_TYPE, RejectReason.VALUE_INCORRECT, "only MassStatusReqType 7 is supported"
        )
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
        fields = status_report_fields(order, b"MS-%s-%d" % (request_id, number))
        fields += [
            (tags.MASS_STATUS_REQ_ID, request_id),
            (tags.TOT_NUM_REPORTS, total),
            (tags.LAST_RPT_REQUESTED, b"Y" if number == len(orders) else b"N"),
        ]
        session.send(MsgType.EXECUTION_REPORT, fields, target_sub_id=order.sender_sub_id)
