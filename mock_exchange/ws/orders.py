"""Order entry over the WebSocket API: place, cancel, open orders, fills of one account.

The same :class:`MatchingEngine` as FIX decides, so the semantics (partial fills over time,
IOC, exchange faults, business rejects recorded in the ledger) are the venue's, not the
gateway's. A request the gateway itself refuses (duplicate or unknown client order id) never
reaches the engine, so it leaves no trace in the ledger, like a malformed FIX message.
"""

from __future__ import annotations

from mock_exchange.book import CancelRejection, CancelRejectReason, Execution, MatchingEngine, NewOrderRequest
from mock_exchange.ledger import Ledger
from mock_exchange.model import Order
from mock_exchange.ws.connection import WsConnection
from mock_exchange.ws.frames import error_frame, fill_view, order_view, result_frame
from mock_exchange.ws.protocol import (
    CancelRequest,
    ErrorCode,
    FillsRequest,
    Op,
    OpenOrdersRequest,
    PlaceRequest,
    RequestError,
)
from mock_exchange.ws.sessions import WsSessions

_CANCEL_REJECT_CODES = {
    CancelRejectReason.UNKNOWN_ORDER: ErrorCode.UNKNOWN_ORDER,
    CancelRejectReason.TOO_LATE_TO_CANCEL: ErrorCode.TOO_LATE_TO_CANCEL,
}


class WsOrderEntry:
    """The order operations of an authenticated connection (its account is the session)."""

    def __init__(self, engine: MatchingEngine, ledger: Ledger, sessions: WsSessions) -> None:
        self._engine = engine
        self._ledger = ledger
        self._sessions = sessions

    def place(self, connection: WsConnection, account: str, request: PlaceRequest) -> None:
        if self._engine.knows_cl_ord_id(request.client_order_id):
            raise RequestError(
                ErrorCode.DUPLICATE_CLIENT_ORDER_ID,
                f"client_order_id {request.client_order_id} was already used",
                request.id,
            )
        executions = self._engine.submit(
            NewOrderRequest(
                cl_ord_id=request.client_order_id,
                sender_comp_id=account,
                sender_sub_id=request.sub_id or account,
                symbol=request.symbol,
                side=request.side,
                ord_type=request.type,
                tif=request.tif,
                price=request.price,
                qty=request.qty,
            )
        )
        connection.send(result_frame(Op.PLACE, request.id, order=order_view(executions[0].order)))
        self._sessions.report(executions)

    def cancel(self, connection: WsConnection, account: str, request: CancelRequest) -> None:
        order = self._own_order(account, request)
        if order is None:
            raise RequestError(ErrorCode.UNKNOWN_ORDER, "unknown order", request.id)

        def answer(outcome: Execution | CancelRejection) -> None:
            if isinstance(outcome, CancelRejection):
                code = _CANCEL_REJECT_CODES.get(outcome.reason, ErrorCode.CANCEL_REJECTED)
                connection.send(error_frame(code, outcome.text, request.id))
                return
            connection.send(result_frame(Op.CANCEL, request.id, order=order_view(outcome.order)))
            self._sessions.report([outcome])

        outcome = self._engine.cancel(
            order.cl_ord_id,
            order_id=order.order_id,
            cancel_cl_ord_id=f"cancel-{order.order_id}",
            requested_by=account,
            on_release=answer,
        )
        if outcome is not None:  # None: a cancel-failure fault holds (answered on release) or drops it
            answer(outcome)

    def open_orders(self, connection: WsConnection, account: str, request: OpenOrdersRequest) -> None:
        orders = sorted(
            (
                order
                for order in self._ledger.open_orders.values()
                if order.sender_comp_id == account and request.symbol in (None, order.symbol)
            ),
            key=lambda order: order.received_ns,
        )
        connection.send(result_frame(Op.OPEN_ORDERS, request.id, orders=[order_view(o) for o in orders]))

    def fills(self, connection: WsConnection, account: str, request: FillsRequest) -> None:
        orders = self._ledger.orders
        fills = [
            fill_view(fill)
            for fill in self._ledger.fills
            if orders[fill.order_id].sender_comp_id == account and request.symbol in (None, fill.symbol)
        ]
        connection.send(result_frame(Op.FILLS, request.id, fills=fills))

    def _own_order(self, account: str, request: CancelRequest) -> Order | None:
        order = None
        if request.client_order_id is not None:
            order = self._ledger.order_by_cl_ord_id(request.client_order_id)
        elif request.order_id is not None:
            order = self._ledger.orders.get(request.order_id)
        return order if order is not None and order.sender_comp_id == account else None
