"""What the ledger's events add up to in memory: orders, fills, sessions and the other records.

One event is applied by one function whether the venue just wrote it or a restart reads it
back from the file (:mod:`mock_exchange.ledger_replay`), so both end in the same state. The
writer is :class:`mock_exchange.ledger.Ledger`, which reads its indexes from here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mock_exchange.market_data_log import MarketDataLog
from mock_exchange.model import (
    ExecType,
    Fill,
    Order,
    OrderEvent,
    OrderStatus,
    OrdType,
    SessionEventKind,
    SessionRecord,
    Side,
    TimeInForce,
)

log = logging.getLogger(__name__)

Event = dict[str, Any]

MAX_MARKET_DATA_RECORDS = 100_000
"""``md`` and ``price`` lines held in memory (the file keeps every one): about 28 minutes of two
feeds of two symbols"""


class LedgerIndex:
    """The indexes of one ledger file (``path`` names it in the log), built event by event."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.orders: dict[str, Order] = {}
        self.open_orders: dict[str, Order] = {}
        self.fills: list[Fill] = []
        self.sessions: dict[str, SessionRecord] = {}
        self.fault_events: list[Event] = []
        self.bans: list[Event] = []
        self.status_events: list[Event] = []
        self.market_data = MarketDataLog(MAX_MARKET_DATA_RECORDS)
        self._by_cl_ord_id: dict[str, Order] = {}
        self._order_count = 0
        self._exec_count = 0
        self._appliers: dict[str, Callable[[Event], None]] = {
            "order": self._apply_order,
            "fill": self._apply_fill,
            "cancel": self._apply_cancel,
            "replace": self._apply_replace,
            "fault": self.fault_events.append,
            "ban": self.bans.append,
            "status": self.status_events.append,
            "session": self._apply_session,
            "md": self.market_data.append,
            "price": self.market_data.append,
        }

    def order_by_cl_ord_id(self, cl_ord_id: str) -> Order | None:
        return self._by_cl_ord_id.get(cl_ord_id)

    def next_order_id(self) -> str:
        return f"O{self._order_count + 1}"

    def next_exec_id(self) -> str:
        return f"E{self._exec_count + 1}"

    def apply(self, event: Event) -> None:
        """Add one event (an unknown kind is logged and skipped)."""
        applier = self._appliers.get(event.get("kind", ""))
        if applier is None:
            log.warning("ledger %s: ignoring event of unknown kind %r", self.path, event.get("kind"))
            return
        applier(event)

    def index_order(self, order: Order, t_ns: int, exec_id: str, text: str | None) -> None:
        """A received order and its acceptance, from the values its ``order`` line holds."""
        status = order.status
        exec_type = ExecType.NEW if status is OrderStatus.NEW else ExecType.REJECTED
        order.events.append(OrderEvent(t_ns, status, exec_type, exec_id, text))
        self._order_count += 1
        self._exec_count += 1
        self.orders[order.order_id] = order
        self._by_cl_ord_id[order.cl_ord_id] = order
        if order.is_open:
            self.open_orders[order.order_id] = order

    def _apply_order(self, event: Event) -> None:
        order = Order(
            order_id=event["order_id"],
            cl_ord_id=event["cl_ord_id"],
            sender_comp_id=event["sender_comp_id"],
            sender_sub_id=event["sender_sub_id"],
            instance=event["instance"],
            symbol=event["symbol"],
            side=Side(event["side"]),
            ord_type=OrdType(event["ord_type"]),
            tif=TimeInForce(event["tif"]),
            price=event["price"],
            qty=event["qty"],
            received_ns=event["t_ns"],
            status=OrderStatus(event["status"]),
        )
        self.index_order(order, event["t_ns"], event["exec_id"], event["text"])

    def _apply_fill(self, event: Event) -> None:
        order = self.orders[event["order_id"]]
        qty: int = event["qty"]
        price: float = event["price"]
        order.cum_qty += qty
        order.notional += qty * price
        order.fill_count += 1
        order.status = OrderStatus.FILLED if order.cum_qty >= order.qty else OrderStatus.PARTIALLY_FILLED
        order.events.append(OrderEvent(event["t_ns"], order.status, ExecType.TRADE, event["exec_id"]))
        self._exec_count += 1
        if not order.is_open:
            self.open_orders.pop(order.order_id, None)
        self.fills.append(
            Fill(
                exec_id=event["exec_id"],
                order_id=order.order_id,
                cl_ord_id=order.cl_ord_id,
                instance=order.instance,
                symbol=order.symbol,
                side=order.side,
                qty=qty,
                price=price,
                t_ns=event["t_ns"],
                market=event.get("market"),
            )
        )

    def _apply_cancel(self, event: Event) -> None:
        order = self.orders[event["order_id"]]
        order.status = OrderStatus.CANCELED
        exec_type = ExecType.EXPIRED if event.get("expired") else ExecType.CANCELED
        order.events.append(
            OrderEvent(event["t_ns"], order.status, exec_type, event["exec_id"], event["text"])
        )
        self._exec_count += 1
        self.open_orders.pop(order.order_id, None)

    def _apply_replace(self, event: Event) -> None:
        order = self.orders[event["order_id"]]
        order.cl_ord_id = event["cl_ord_id"]
        order.qty = event["qty"]
        order.price = event["price"]
        order.events.append(OrderEvent(event["t_ns"], order.status, ExecType.REPLACED, event["exec_id"]))
        self._exec_count += 1
        self._by_cl_ord_id[order.cl_ord_id] = order

    def _apply_session(self, event: Event) -> None:
        comp_id: str = event["sender_comp_id"]
        kind = SessionEventKind(event["event"])
        if kind is SessionEventKind.LOGON_REFUSED:
            return
        record = self.sessions.setdefault(comp_id, SessionRecord(comp_id))
        record.in_seq = event["in_seq"]
        record.out_seq = event["out_seq"]
        if kind is SessionEventKind.LOGON:
            record.connected = record.logged_on = True
            record.logons += 1
            record.last_logon_ns = event["t_ns"]
        elif kind is SessionEventKind.LOGOUT:
            record.logged_on = False
        else:
            record.connected = record.logged_on = False
