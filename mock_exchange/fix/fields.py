"""Application-level FIX fields of the venue: enum codes, inbound parsing, report fields.

Inbound helpers raise :class:`InvalidFieldError` (answered with a session Reject naming the
tag); outbound helpers build the field lists of ExecutionReports.
"""

from __future__ import annotations

import math
import re
from typing import TypeVar

from mock_exchange.config import MAX_SAFE_LOTS
from mock_exchange.executions import Execution, NewOrderRequest, OrderState, ReplaceRequest
from mock_exchange.fix import tags
from mock_exchange.fix.checks import RejectReason
from mock_exchange.fix.codec import Field, FixMessage, encode_fields
from mock_exchange.fix.session import utc_timestamps
from mock_exchange.model import ExecType, Order, OrderStatus, OrdType, Side, TimeInForce

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

_SIDES = {code: side for side, code in SIDE_CODES.items()}
# plain decimals (finite, no exponent, no sign): the common price and quantity, read in one go
_PLAIN_NUMBER = re.compile(rb"[0-9]{1,15}(?:\.[0-9]{0,15})?").fullmatch
_PLAIN_LOTS = re.compile(rb"[0-9]{1,15}").fullmatch
_ORD_TYPES = {code: ord_type for ord_type, code in ORD_TYPE_CODES.items()}
_TIFS = {code: tif for tif, code in TIF_CODES.items()}


class InvalidFieldError(Exception):
    """A field of an inbound application message is missing or malformed."""

    def __init__(self, tag: int, reason: RejectReason, text: str) -> None:
        super().__init__(text)
        self.tag = tag
        self.reason = reason
        self.text = text


_PRICE_TEXTS: dict[float, bytes] = {}
_PRICE_TEXTS_LIMIT = 4096


def format_price(price: float) -> bytes:
    """``price`` to 8 decimals without trailing zeros (the texts of recent prices are kept)."""
    text = _PRICE_TEXTS.get(price)
    if text is None:
        digits = f"{price:.8f}".rstrip("0").rstrip(".")
        text = digits.encode() if digits else b"0"
        if len(_PRICE_TEXTS) >= _PRICE_TEXTS_LIMIT:
            _PRICE_TEXTS.clear()
        _PRICE_TEXTS[price] = text
    return text


# -- inbound -----------------------------------------------------------------------------------


def new_order_request(sender_comp_id: str, message: FixMessage) -> NewOrderRequest:
    """The order a NewOrderSingle enters (its tags checked in the order the Reject names them).

    The common order (every field there, a whole quantity, a plain price) is read in one go;
    anything else takes the field-by-field checks, which name the first wrong field.
    """
    get = message.get
    ord_type = _ORD_TYPES.get(get(tags.ORD_TYPE) or b"")
    cl_ord_id, symbol, qty = get(tags.CL_ORD_ID), get(tags.SYMBOL), get(tags.ORDER_QTY) or b""
    side = _SIDES.get(get(tags.SIDE) or b"")
    tif_code = get(tags.TIME_IN_FORCE)
    tif = TimeInForce.DAY if tif_code is None else _TIFS.get(tif_code)
    price = get(tags.PRICE)
    plain_price = _PLAIN_NUMBER(price) is not None if price is not None else ord_type is OrdType.MARKET
    if ord_type and cl_ord_id and symbol and side and tif and _PLAIN_LOTS(qty) and plain_price:
        sender_sub_id = get(tags.SENDER_SUB_ID)
        return NewOrderRequest(
            cl_ord_id.decode("latin-1"),
            sender_comp_id,
            None if sender_sub_id is None else sender_sub_id.decode("latin-1"),
            symbol.decode("latin-1"),
            side,
            ord_type,
            tif,
            None if price is None else float(price),
            int(qty),
        )
    return _checked_new_order_request(sender_comp_id, message)


def _checked_new_order_request(sender_comp_id: str, message: FixMessage) -> NewOrderRequest:
    ord_type = enum_field(message, tags.ORD_TYPE, _ORD_TYPES)
    cl_ord_id = required_str(message, tags.CL_ORD_ID)
    sender_sub_id = message.get(tags.SENDER_SUB_ID)
    return NewOrderRequest(
        cl_ord_id,
        sender_comp_id,
        None if sender_sub_id is None else sender_sub_id.decode("latin-1"),
        required_str(message, tags.SYMBOL),
        enum_field(message, tags.SIDE, _SIDES),
        ord_type,
        enum_field(message, tags.TIME_IN_FORCE, _TIFS, default=TimeInForce.DAY),
        _price(message, ord_type),
        quantity(message, tags.ORDER_QTY),
    )


def replace_request(sender_comp_id: str, message: FixMessage) -> ReplaceRequest:
    ord_type = enum_field(message, tags.ORD_TYPE, _ORD_TYPES)
    return ReplaceRequest(
        orig_cl_ord_id=required_str(message, tags.ORIG_CL_ORD_ID),
        order_id=message.get_str(tags.ORDER_ID),
        cl_ord_id=required_str(message, tags.CL_ORD_ID),
        requested_by=sender_comp_id,
        qty=quantity(message, tags.ORDER_QTY),
        price=_price(message, ord_type),
    )


def _price(message: FixMessage, ord_type: OrdType) -> float | None:
    value = message.get(tags.PRICE)
    if value is None:
        if ord_type is OrdType.LIMIT:
            raise InvalidFieldError(
                tags.PRICE, RejectReason.REQUIRED_TAG_MISSING, "limit order without Price(44)"
            )
        return None
    return _number(value, tags.PRICE)


def _number(value: bytes, tag: int) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise InvalidFieldError(tag, RejectReason.INCORRECT_DATA_FORMAT, f"tag {tag} is not a number")
    return number


def required(message: FixMessage, tag: int) -> bytes:
    value = message.get(tag)
    if not value:
        raise InvalidFieldError(tag, RejectReason.REQUIRED_TAG_MISSING, f"required tag {tag} missing")
    return value


def required_str(message: FixMessage, tag: int) -> str:
    return required(message, tag).decode("latin-1")


def quantity(message: FixMessage, tag: int) -> int:
    """A whole number of lots no JSON reader loses precision on (:data:`MAX_SAFE_LOTS`); the
    venue's own ``max_order_qty`` is a business rule, checked by the engine."""
    number = _number(required(message, tag), tag)
    if number != int(number):
        raise InvalidFieldError(
            tag, RejectReason.VALUE_INCORRECT, f"tag {tag} must be a whole number of lots"
        )
    if abs(number) > MAX_SAFE_LOTS:
        raise InvalidFieldError(
            tag, RejectReason.VALUE_INCORRECT, f"tag {tag} is out of range: at most {MAX_SAFE_LOTS} lots"
        )
    return int(number)


def enum_field(message: FixMessage, tag: int, values: dict[bytes, T], default: T | None = None) -> T:
    value = message.get(tag)
    if value is None and default is not None:
        return default
    if value is None:
        raise InvalidFieldError(tag, RejectReason.REQUIRED_TAG_MISSING, f"required tag {tag} missing")
    member = values.get(value)
    if member is None:
        raise InvalidFieldError(
            tag, RejectReason.VALUE_INCORRECT, f"unsupported value {value.decode('latin-1')!r} for tag {tag}"
        )
    return member


# -- outbound ----------------------------------------------------------------------------------


_REPORT_HEAD = (
    b"37=%s\x0111=%s\x0117=%s\x01150=%s\x0139=%s\x0155=%s\x0154=%s\x0138=%d\x0140=%s\x0159=%s"
    b"\x0114=%d\x01151=%d\x016=%s\x0160=%s\x01"
)
_PRICED_REPORT_HEAD = _REPORT_HEAD + b"44=%s\x01"


def execution_report_body(execution: Execution) -> bytes:
    """The encoded body of the ExecutionReport of ``execution`` (the fields of
    :func:`order_fields`, then OrigClOrdID, LastPx/LastQty/LastMkt and Text when they apply).

    One template rather than a field list: this runs once per order on the hot path.
    """
    order = execution.order
    state: Order | OrderState = execution.state or order
    exec_type = execution.exec_type
    cancel_cl_ord_id = execution.cancel_cl_ord_id
    values = (
        order.order_id.encode(),
        (order.cl_ord_id if cancel_cl_ord_id is None else cancel_cl_ord_id).encode(),
        execution.exec_id.encode(),
        EXEC_TYPE_CODES[exec_type],
        ORD_STATUS_EXPIRED if exec_type is ExecType.EXPIRED else ORD_STATUS_CODES[state.status],
        order.symbol.encode(),
        SIDE_CODES[order.side],
        order.qty,
        ORD_TYPE_CODES[order.ord_type],
        TIF_CODES[order.tif],
        state.cum_qty,
        state.leaves_qty,
        format_price(state.avg_px),
        utc_timestamps.now(),
    )
    if order.price is None:
        body = _REPORT_HEAD % values
    else:
        body = _PRICED_REPORT_HEAD % (*values, format_price(order.price))
    extra: list[Field] = []
    if cancel_cl_ord_id is not None:
        extra.append((tags.ORIG_CL_ORD_ID, order.cl_ord_id.encode()))
    elif execution.orig_cl_ord_id is not None:
        extra.append((tags.ORIG_CL_ORD_ID, execution.orig_cl_ord_id.encode()))
    if exec_type is ExecType.TRADE:
        extra.append((tags.LAST_PX, format_price(execution.last_px)))
        extra.append((tags.LAST_QTY, b"%d" % execution.last_qty))
        if execution.last_mkt is not None:
            extra.append((tags.LAST_MKT, execution.last_mkt.encode()))
    if execution.text:
        extra.append((tags.TEXT, execution.text.encode()))
    return body + encode_fields(extra) if extra else body


def order_fields(order: Order, *, exec_id: bytes) -> list[Field]:
    """The fields every report of ``order`` carries; index 1 is ClOrdID, 3 ExecType, 4 OrdStatus."""
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


def status_report_fields(order: Order, exec_id: bytes) -> list[Field]:
    """An ExecutionReport (150=I) giving the current state of ``order``."""
    fields = order_fields(order, exec_id=exec_id)
    fields[3] = (tags.EXEC_TYPE, EXEC_TYPE_ORDER_STATUS)
    return fields
