"""The JSON frames the WebSocket API sends: results, errors and execution events.

Every frame has a ``type``: ``result`` (the answer to a request, echoing its ``op`` and ``id``),
``error`` (``code`` and ``message``) or ``execution`` (an order changed; ``seq`` counts them
per session, from 1).
"""

from __future__ import annotations

from typing import Any

from mock_exchange.book import Execution
from mock_exchange.model import Fill, Order, OrderStatus
from mock_exchange.ws.protocol import ErrorCode, Op, RequestId

Frame = dict[str, Any]


def order_view(order: Order) -> Frame:
    return {
        "order_id": order.order_id,
        "client_order_id": order.cl_ord_id,
        "account": order.sender_comp_id,
        "sub_id": order.sender_sub_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.ord_type.value,
        "tif": order.tif.value,
        "price": order.price,
        "qty": order.qty,
        "cum_qty": order.cum_qty,
        "leaves_qty": order.leaves_qty,
        "avg_px": order.avg_px,
        "status": order.status.value,
        "text": order.events[-1].text if order.events else None,
    }


def fill_view(fill: Fill) -> Frame:
    """A fill; with ``market`` (where it traded) when the venue names markets, as the admin API."""
    view: Frame = {
        "exec_id": fill.exec_id,
        "order_id": fill.order_id,
        "client_order_id": fill.cl_ord_id,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "qty": fill.qty,
        "price": fill.price,
        "t_ns": fill.t_ns,
    }
    if fill.market is not None:
        view["market"] = fill.market
    return view


def result_frame(op: Op, request_id: RequestId | None, **body: Any) -> Frame:
    return {"type": "result", "op": op.value, "id": request_id, **body}


def error_frame(code: ErrorCode, message: str, request_id: RequestId | None = None) -> Frame:
    return {"type": "error", "code": code.value, "message": message, "id": request_id}


def execution_frame(execution: Execution) -> Frame:
    """An execution event without its ``seq`` (the session numbers it when it sends it)."""
    order = execution.order
    return {
        "type": "execution",
        "exec_type": execution.exec_type.value,
        "exec_id": execution.exec_id,
        "status": _status_after(order, execution.exec_id).value,
        "last_qty": execution.last_qty,
        "last_px": execution.last_px,
        "market": execution.last_mkt,  # a trade's LastMkt when the venue names markets, else null
        "text": execution.text,
        "order": order_view(order),
    }


def _status_after(order: Order, exec_id: str) -> OrderStatus:
    """The order's status right after the execution ``exec_id`` (later ones may have followed)."""
    for event in reversed(order.events):
        if event.exec_id == exec_id:
            return event.status
    return order.status
