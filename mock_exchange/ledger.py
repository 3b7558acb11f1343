"""The ledger of truth: an append-only JSONL file of everything the venue did, plus indexes.

Every mutation goes through one path: build the event, write it (flushed to the OS), then
apply it to the in-memory indexes with the same function a restart uses to replay the file.
So the state after a restart is, by construction, the state before it.

Line kinds (all carry ``kind`` and ``t_ns`` = ``time.monotonic_ns()``):

- ``order``: an order received and its acceptance (``status`` ``new`` or ``rejected``);
- ``fill``: one execution against an order (its state change is derived from it); ``market``
  names where it traded when the venue reports markets (``VenueConfig.markets``);
- ``cancel``: an order canceled (by request, IOC remainder, cancel-on-disconnect, mass
  cancel) or expired (``expired``: a DAY order at the market close; its status is canceled);
- ``replace``: an open order's ClOrdID, quantity and price changed (OrderCancelReplaceRequest);
- ``fault``: an exchange fault armed (``params``) or healed (``params`` null);
- ``session``: a FIX session logon / refused logon / logout / disconnect;
- ``ban``: a session banned by a rate limit for ``ban_s`` (``until_ns``), from ``t_ns``;
- ``status``: a symbol halted or trading again (``causes``: fault, limit_up, limit_down, replay,
  session) or its limit-up/limit-down ``band`` set (:mod:`mock_exchange.trading_status`);
- ``md``: what one market-data feed published for one symbol in at most 100 ms (its seq range
  and the latest bid/ask/last), and ``price``: the venue's true quote of one symbol, at the same
  cadence; only a venue with feeds writes them (:mod:`mock_exchange.md.recorder`). The latest
  :data:`MAX_MARKET_DATA_RECORDS` of them are kept in memory, numbered (``GET /ledger``'s ``market_data``
  and ``GET /ledger/market-data``).

Reading the file back is :mod:`mock_exchange.ledger_replay`; what the events add up to in memory
(applied alike when written and when read back) is :mod:`mock_exchange.ledger_index`. A line is
never written with a number JSON cannot hold (the event is refused: :class:`LedgerRefusedError`,
logged).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mock_exchange.ledger_file import LedgerFile
from mock_exchange.ledger_index import MAX_MARKET_DATA_RECORDS, LedgerIndex
from mock_exchange.ledger_lines import NonFiniteNumberError, event_line, order_line
from mock_exchange.ledger_replay import LedgerCorruptError, LedgerError, replay
from mock_exchange.market_data_log import MarketDataLog
from mock_exchange.model import Fill, Order, OrderEvent, SessionEventKind, SessionRecord

if TYPE_CHECKING:
    from mock_exchange.telemetry import LedgerObserver

log = logging.getLogger(__name__)

__all__ = ["MAX_MARKET_DATA_RECORDS", "Ledger", "LedgerCorruptError", "LedgerError", "LedgerRefusedError"]

Event = dict[str, Any]

MARKET_DATA_KINDS = frozenset({"md", "price"})


class LedgerRefusedError(LedgerError):
    """An event the ledger will not write (a number JSON cannot hold); nothing changed."""


class Ledger:
    """Append-only ledger file and the indexes rebuilt from it; ``observer`` hears each live order
    event (never a replayed one)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.observer: LedgerObserver | None = None
        self._index = LedgerIndex(path)
        self._file: LedgerFile | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path) -> Ledger:
        """Open (creating if needed) the ledger at ``path``, replaying what it holds."""
        ledger = cls(path)
        ledger._replay()
        ledger._file = LedgerFile(path)
        return ledger

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _replay(self) -> None:
        replay(self.path, self._index.apply)
        log.info(
            "ledger %s replayed: %d orders (%d open), %d fills",
            self.path,
            len(self.orders),
            len(self.open_orders),
            len(self.fills),
        )

    # -- queries ---------------------------------------------------------------------------

    @property
    def orders(self) -> dict[str, Order]:
        return self._index.orders

    @property
    def open_orders(self) -> dict[str, Order]:
        return self._index.open_orders

    @property
    def fills(self) -> list[Fill]:
        return self._index.fills

    @property
    def sessions(self) -> dict[str, SessionRecord]:
        return self._index.sessions

    @property
    def fault_events(self) -> list[Event]:
        return self._index.fault_events

    @property
    def bans(self) -> list[Event]:
        return self._index.bans

    @property
    def status_events(self) -> list[Event]:
        return self._index.status_events

    @property
    def market_data(self) -> MarketDataLog:
        return self._index.market_data

    def order_by_cl_ord_id(self, cl_ord_id: str) -> Order | None:
        return self._index.order_by_cl_ord_id(cl_ord_id)

    def next_order_id(self) -> str:
        return self._index.next_order_id()

    def _next_exec_id(self) -> str:
        return self._index.next_exec_id()

    # -- writes ----------------------------------------------------------------------------

    def record_order(self, order: Order, *, text: str | None = None) -> Order:
        """Record a received order with its acceptance status (``new`` or ``rejected``)."""
        exec_id = self._next_exec_id()
        try:
            line = order_line(order, exec_id, text)
        except NonFiniteNumberError as error:
            raise _refused(error) from None
        self._append_line(line)
        self._index.index_order(order, order.received_ns, exec_id, text)  # the same values a replay reads
        if self.observer is not None:
            self.observer.order_event("order", order, exec_id, text)
        return order

    def record_fill(
        self, order: Order, *, qty: int, price: float, t_ns: int, market: str | None = None
    ) -> Fill:
        event: Event = {
            "kind": "fill",
            "t_ns": t_ns,
            "order_id": order.order_id,
            "exec_id": self._next_exec_id(),
            "qty": qty,
            "price": price,
        }
        if market is not None:
            event["market"] = market
        self._write(event)
        if self.observer is not None:
            self.observer.fill_event(self.fills[-1])
        return self.fills[-1]

    def record_cancel(
        self,
        order: Order,
        *,
        t_ns: int,
        text: str,
        cancel_cl_ord_id: str | None = None,
        requested_by: str | None = None,
        expired: bool = False,
    ) -> OrderEvent:
        event: Event = {
            "kind": "cancel",
            "t_ns": t_ns,
            "order_id": order.order_id,
            "exec_id": self._next_exec_id(),
            "cancel_cl_ord_id": cancel_cl_ord_id,
            "requested_by": requested_by,
            "text": text,
        }
        if expired:
            event["expired"] = True
        self._write(event)
        if self.observer is not None:
            self.observer.order_event("cancel", order, event["exec_id"], text)
        return order.events[-1]

    def record_replace(
        self, order: Order, *, t_ns: int, cl_ord_id: str, qty: int, price: float | None, requested_by: str
    ) -> OrderEvent:
        self._write(
            {
                "kind": "replace",
                "t_ns": t_ns,
                "order_id": order.order_id,
                "exec_id": self._next_exec_id(),
                "cl_ord_id": cl_ord_id,
                "qty": qty,
                "price": price,
                "requested_by": requested_by,
            }
        )
        if self.observer is not None:
            self.observer.order_event("replace", order, order.events[-1].exec_id, None)
        return order.events[-1]

    def record_fault(self, fault_kind: str, params: dict[str, Any] | None) -> None:
        """An exchange fault armed with ``params``, or healed (``params`` is ``None``)."""
        self._write(
            {
                "kind": "fault",
                "t_ns": time.monotonic_ns(),
                "fault": fault_kind,
                "action": "arm" if params is not None else "heal",
                "params": params,
            }
        )

    def record_ban(self, sender_comp_id: str, ban_s: float, text: str) -> None:
        """A rate limit banned the session ``sender_comp_id`` for ``ban_s`` from now."""
        t_ns = time.monotonic_ns()
        self._write({"kind": "ban", "t_ns": t_ns, "sender_comp_id": sender_comp_id, "ban_s": ban_s,
                     "until_ns": t_ns + round(ban_s * 1e9), "text": text})

    def record_status(self, fields: Mapping[str, Any]) -> None:
        """A symbol's trading status changed: halted / trading, its causes, its price band."""
        self._write({"kind": "status", "t_ns": time.monotonic_ns(), **fields})

    def record_market_data(self, event: Event) -> None:
        """An ``md`` or ``price`` line (:class:`LedgerRefusedError` when it holds NaN or an infinity)."""
        if event.get("kind") not in MARKET_DATA_KINDS:
            raise LedgerError(f"not a market-data event: {event.get('kind')!r}")
        self._write(event)

    def record_session(
        self,
        sender_comp_id: str,
        kind: SessionEventKind,
        *,
        t_ns: int,
        in_seq: int = 0,
        out_seq: int = 0,
        text: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """One session event; ``extra``: more keys for its line (a refused logon's ``peer``)."""
        event: Event = {
            "kind": "session",
            "t_ns": t_ns,
            "sender_comp_id": sender_comp_id,
            "event": kind.value,
            "in_seq": in_seq,
            "out_seq": out_seq,
            "text": text,
        }
        if extra:
            event.update(extra)
        self._write(event)

    def _write(self, event: Event) -> None:
        self._append(event)
        self._index.apply(event)

    def _append(self, event: Event) -> None:
        try:
            line = event_line(event)
        except NonFiniteNumberError as error:
            raise _refused(error) from None
        self._append_line(line)

    def _append_line(self, line: str) -> None:
        """One event's line in the file, handed to the OS (at the latest when the batch ends)."""
        if self._file is None:
            raise LedgerError("ledger is not open")
        self._file.write(line)

    def deferred_flush(self) -> LedgerFile:
        """Write once when the ``with`` block ends instead of once per event.

        For a batch whose answers are held until after the block (the FIX acceptor holds its
        writes while it handles one read's worth of messages): the ledger still reaches the OS
        before the counterparty hears anything.
        """
        if self._file is None:
            raise LedgerError("ledger is not open")
        return self._file

    def flush(self) -> None:
        """Hand what the current batch holds to the OS now (before anything else is sent)."""
        if self._file is not None:
            self._file.flush()


def _refused(error: NonFiniteNumberError) -> LedgerRefusedError:
    """An event holding NaN or an infinity is not written (logged): the error to raise instead."""
    log.error("ledger: refusing an event: %s", error)
    return LedgerRefusedError(str(error))
