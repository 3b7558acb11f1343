"""The OMS's only memory: a SQLite file (WAL) in the state directory, and a lock on that directory.

Two tables: ``orders`` (every order this OMS sent, as last heard of; an order is written before
it is sent, so a successor knows of it even when the answer never came) and ``fills`` (every
execution booked; ``exec_id`` is the primary key, so a fill is booked at most once, across
restarts too). Positions are not stored: they are the sum of the fills.

A fill and its order's new state are written in one transaction. ``synchronous=NORMAL`` in WAL
mode loses nothing when the process is killed (the OS has the pages); only a power loss can drop
the last commits.

The directory lock (``flock`` on ``oms.lock``) keeps a second instance from writing the same
journal while the first one still runs; the kernel drops it when the holder dies, even by kill -9.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from .model import Fill, Order, OrderType, Side, Status, Tif

DATABASE_NAME = "oms.sqlite3"
LOCK_NAME = "oms.lock"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY,
    exchange_order_id TEXT,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    type TEXT NOT NULL,
    tif TEXT NOT NULL,
    qty INTEGER NOT NULL,
    price REAL,
    instance TEXT NOT NULL,
    status TEXT NOT NULL,
    cum_qty INTEGER NOT NULL,
    text TEXT
);
CREATE TABLE IF NOT EXISTS fills (
    exec_id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    qty INTEGER NOT NULL,
    price REAL NOT NULL,
    t_ns INTEGER NOT NULL
);
"""
_UPSERT_ORDER = """
INSERT INTO orders (order_id, exchange_order_id, symbol, side, type, tif, qty, price, instance, status,
                    cum_qty, text)
VALUES (:order_id, :exchange_order_id, :symbol, :side, :type, :tif, :qty, :price, :instance, :status,
        :cum_qty, :text)
ON CONFLICT (order_id) DO UPDATE SET
    exchange_order_id = excluded.exchange_order_id, status = excluded.status,
    cum_qty = excluded.cum_qty, text = excluded.text
"""
_INSERT_FILL = """
INSERT OR IGNORE INTO fills (exec_id, order_id, symbol, side, qty, price, t_ns)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""


class JournalError(Exception):
    """The state directory cannot be used (locked by a live instance, unreadable, not a journal)."""


@dataclass(frozen=True)
class Snapshot:
    """What a journal holds: orders in the order they were first written, fills in booking order."""

    orders: list[Order]
    fills: list[Fill]


class Journal:
    """One open journal; ``open`` locks the directory, ``close`` (or leaving the ``with``) unlocks it."""

    def __init__(self, connection: sqlite3.Connection, lock_fd: int) -> None:
        self._db = connection
        self._lock_fd = lock_fd

    @classmethod
    def open(cls, state_dir: Path, owner: str) -> Journal:
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
            lock_fd = os.open(state_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise JournalError(f"cannot use state dir {state_dir}: {error.strerror}") from None
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = Path(state_dir / LOCK_NAME).read_text(errors="replace").strip() or "another process"
            os.close(lock_fd)
            raise JournalError(f"state dir {state_dir} is in use by {holder}") from None
        os.ftruncate(lock_fd, 0)
        os.write(lock_fd, f"{owner} (pid {os.getpid()})\n".encode())
        try:
            connection = sqlite3.connect(state_dir / DATABASE_NAME, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.executescript(_SCHEMA)
        except sqlite3.Error as error:
            os.close(lock_fd)
            raise JournalError(f"cannot open the journal in {state_dir}: {error}") from None
        return cls(connection, lock_fd)

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()
        os.close(self._lock_fd)  # releases the flock

    def load(self) -> Snapshot:
        try:
            order_rows = self._db.execute(
                "SELECT order_id, exchange_order_id, symbol, side, type, tif, qty, price, instance, status,"
                " cum_qty, text FROM orders ORDER BY rowid"
            ).fetchall()
            fill_rows = self._db.execute(
                "SELECT exec_id, order_id, symbol, side, qty, price, t_ns FROM fills ORDER BY rowid"
            ).fetchall()
            orders = [_order(row) for row in order_rows]
            fills = [_fill(row) for row in fill_rows]
        except (sqlite3.Error, ValueError) as error:
            raise JournalError(f"the journal cannot be read: {error}") from None
        return Snapshot(orders, fills)

    def save_order(self, order: Order) -> None:
        self._db.execute(_UPSERT_ORDER, _order_row(order))

    def book_fill(self, fill: Fill, order: Order | None) -> bool:
        """Store ``fill`` and ``order``'s new state at once; False (nothing written) if already booked."""
        with self._transaction():
            inserted = self._db.execute(
                _INSERT_FILL,
                (fill.exec_id, fill.order_id, fill.symbol, fill.side.value, fill.qty, fill.price, fill.t_ns),
            ).rowcount
            if inserted and order is not None:
                self._db.execute(_UPSERT_ORDER, _order_row(order))
        return bool(inserted)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


def _order_row(order: Order) -> dict[str, object]:
    return {
        "order_id": order.order_id,
        "exchange_order_id": order.exchange_order_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.type.value,
        "tif": order.tif.value,
        "qty": order.qty,
        "price": order.price,
        "instance": order.instance,
        "status": order.status.value,
        "cum_qty": order.cum_qty,
        "text": order.text,
    }


def _order(row: tuple[object, ...]) -> Order:
    order_id, exchange_order_id, symbol, side, kind, tif, qty, price, instance, status, cum_qty, text = row
    return Order(
        order_id=str(order_id),
        exchange_order_id=None if exchange_order_id is None else str(exchange_order_id),
        symbol=str(symbol),
        side=Side(str(side)),
        type=OrderType(str(kind)),
        tif=Tif(str(tif)),
        qty=_int(qty),
        price=None if price is None else float(str(price)),
        instance=str(instance),
        status=Status(str(status)),
        cum_qty=_int(cum_qty),
        text=None if text is None else str(text),
    )


def _fill(row: tuple[object, ...]) -> Fill:
    exec_id, order_id, symbol, side, qty, price, t_ns = row
    return Fill(
        str(exec_id), str(order_id), str(symbol), Side(str(side)), _int(qty), float(str(price)), _int(t_ns)
    )


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise ValueError(f"expected an integer, found {value!r}")
    return value
