"""How the ledger writes an event as a line: compact JSON, as ``json`` writes it.

The ``order`` line (one per order, on the hot path) comes from one template instead of a dict;
a test holds it to what ``json`` writes for the same event. A line is strict JSON: an event
holding NaN or an infinity is refused (:class:`NonFiniteNumberError`), never written as the
``NaN`` / ``Infinity`` that no JSON reader but Python's takes.
"""

from __future__ import annotations

import json
import math
from enum import Enum
from json.encoder import encode_basestring_ascii
from typing import Any

from mock_exchange.model import Order, OrderStatus, OrdType, Side, TimeInForce

_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


class NonFiniteNumberError(ValueError):
    """An event holds NaN or an infinity: JSON has no such number."""


def event_line(event: dict[str, Any]) -> str:
    try:
        return _ENCODER.encode(event) + "\n"
    except ValueError:
        raise NonFiniteNumberError(f"a {event.get('kind')} event holds a number JSON cannot write") from None


_ORDER_LINE = (
    '{"kind":"order","t_ns":%d,"order_id":%s,"cl_ord_id":%s,"sender_comp_id":%s,"sender_sub_id":%s,'
    '"instance":%s,"symbol":%s,"side":%s,"ord_type":%s,"tif":%s,"price":%s,"qty":%d,"status":%s,'
    '"exec_id":%s,"text":%s}\n'
)
_JSON_ENUMS: dict[Enum, str] = {
    member: _ENCODER.encode(member.value)
    for kind in (Side, OrdType, TimeInForce, OrderStatus)
    for member in kind
}


def _json_text(value: str | None) -> str:
    return "null" if value is None else encode_basestring_ascii(value)


def order_line(order: Order, exec_id: str, text: str | None) -> str:
    """The ``order`` event's line, as ``json`` would write it (one template, no dict on the hot path)."""
    if order.price is not None and not math.isfinite(order.price):
        raise NonFiniteNumberError(f"order {order.order_id} has a price JSON cannot write")
    return _ORDER_LINE % (
        order.received_ns,
        encode_basestring_ascii(order.order_id),
        encode_basestring_ascii(order.cl_ord_id),
        encode_basestring_ascii(order.sender_comp_id),
        _json_text(order.sender_sub_id),
        _json_text(order.instance),
        encode_basestring_ascii(order.symbol),
        _JSON_ENUMS[order.side],
        _JSON_ENUMS[order.ord_type],
        _JSON_ENUMS[order.tif],
        "null" if order.price is None else repr(float(order.price)),  # as json writes a finite float
        order.qty,
        _JSON_ENUMS[order.status],
        encode_basestring_ascii(exec_id),
        _json_text(text),
    )
