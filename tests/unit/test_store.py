"""The OMS store against an in-memory database that can die and come back: writes are queued,
applied in order, kept until acknowledged, and survive a reconnect — unless the store carries the
``no-db-reconnect`` defect, which gives up after the first lost connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from trading_stack.models import Fill, Order, OrderStatus, OrdType, Side
from trading_stack.store import INSERT_FILL, SCHEMA, UPSERT_ORDER, DbConnection, Store


class FakeDatabase:
    """Applied statements in order; ``down`` refuses connections and breaks the open ones."""

    def __init__(self) -> None:
        self.applied: list[tuple[str, tuple[Any, ...]]] = []
        self.down = False
        self.connects = 0
        self.refused = 0
        self.fail_next_write = False
        self._epoch = 0

    async def connect(self, dsn: str) -> DbConnection:
        if self.down:
            self.refused += 1
            raise ConnectionRefusedError(f"{dsn} refused")
        self.connects += 1
        return FakeConnection(self, self._epoch)

    def kill(self) -> None:
        self.down = True
        self._epoch += 1

    def check(self, epoch: int) -> None:
        if self.down or epoch != self._epoch:
            raise ConnectionResetError("connection lost")

    def fill_ids(self) -> list[str]:
        return [str(args[0]) for sql, args in self.applied if sql == INSERT_FILL]


class FakeConnection:
    def __init__(self, database: FakeDatabase, epoch: int) -> None:
        self._db = database
        self._epoch = epoch

    async def execute(self, query: str, *args: Any) -> str:
        self._db.check(self._epoch)
        if query == SCHEMA:
            return "CREATE TABLE"
        if self._db.fail_next_write:  # the connection dies while the write is in flight
            self._db.fail_next_write = False
            self._db.kill()
            self._db.check(self._epoch)
        self._db.applied.append((query, args))
        return "INSERT 0 1"

    async def fetchval(self, query: str, *args: Any) -> int:
        self._db.check(self._epoch)
        return 1

    def terminate(self) -> None:
        self._epoch = -1


def fill(n: int, symbol: str = "BTC-USD") -> Fill:
    return Fill(exec_id=f"E{n}", order_id=f"oms-primary-1-{n}", exchange_order_id=f"X{n}", symbol=symbol,
                side=Side.BUY, qty=1, price=100.0, t_ns=n, instance="oms-primary")


def order(n: int) -> Order:
    return Order(order_id=f"oms-primary-1-{n}", exchange_order_id=f"X{n}", instance="oms-primary",
                 symbol="BTC-USD", side=Side.BUY, ord_type=OrdType.LIMIT, qty=1, cum_qty=1, price=100.0,
                 status=OrderStatus.FILLED)


async def until(condition: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


@asynccontextmanager
async def running(store: Store) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(store.run())
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def make_store(database: FakeDatabase, *, reconnect: bool = True) -> Store:
    return Store("postgresql://p:1,r:2/postgres?target_session_attrs=read-write", reconnect=reconnect,
                 retry_max_s=0.02, ping_interval_s=0.01, connect=database.connect)


async def test_writes_are_applied_in_order_once_connected() -> None:
    database = FakeDatabase()
    database.down = True
    store = make_store(database)
    store.save_order(order(1))
    store.save_fill(fill(1))
    async with running(store):
        await until(lambda: database.refused >= 1, "a refused connection")
        assert store.backlog == 2
        database.down = False
        await until(lambda: store.backlog == 0, "the queue to drain")
    assert [sql for sql, _ in database.applied] == [UPSERT_ORDER, INSERT_FILL]
    assert database.applied[1][1][:2] == ("E1", "oms-primary-1-1")
    assert store.written == 2


async def test_fills_queued_during_an_outage_are_written_after_the_reconnect() -> None:
    database = FakeDatabase()
    store = make_store(database)
    async with running(store):
        store.save_fill(fill(1))
        await until(lambda: database.fill_ids() == ["E1"], "the first fill")
        database.kill()
        await until(lambda: not store.connected, "the store to notice the loss")
        for n in (2, 3):
            store.save_fill(fill(n))
        await until(lambda: database.refused >= 2, "refused reconnects")
        assert store.backlog == 2
        database.down = False
        await until(lambda: store.backlog == 0, "the queue to drain after the reconnect")
    assert database.fill_ids() == ["E1", "E2", "E3"]
    assert store.connections == 2


async def test_a_write_in_flight_when_the_connection_dies_is_retried() -> None:
    database = FakeDatabase()
    store = make_store(database)
    async with running(store):
        await until(lambda: store.connected, "the first connection")
        database.fail_next_write = True
        store.save_fill(fill(1))
        await until(lambda: not store.connected, "the loss")
        assert store.backlog == 1
        database.down = False
        await until(lambda: database.fill_ids() == ["E1"], "the retried fill")
    assert store.backlog == 0


async def test_no_db_reconnect_defect_gives_up_after_the_first_loss() -> None:
    database = FakeDatabase()
    store = make_store(database, reconnect=False)
    async with running(store) as task:
        store.save_fill(fill(1))
        await until(lambda: database.fill_ids() == ["E1"], "the first fill")
        database.kill()
        await asyncio.wait_for(task, 5.0)
        database.down = False
        store.save_fill(fill(2))
        store.save_fill(fill(3))
    assert store.gave_up
    assert not store.connected
    assert store.backlog == 2
    assert database.fill_ids() == ["E1"]
    assert database.connects == 1


async def test_the_defect_still_retries_the_first_connection() -> None:
    database = FakeDatabase()
    database.down = True
    store = make_store(database, reconnect=False)
    store.save_fill(fill(1))
    async with running(store):
        await until(lambda: database.refused >= 2, "refused first connections")
        database.down = False
        await until(lambda: database.fill_ids() == ["E1"], "the first connection")
    assert not store.gave_up


@pytest.mark.parametrize("reconnect", [True, False])
async def test_flush_returns_at_once_when_not_connected(reconnect: bool) -> None:
    store = make_store(FakeDatabase(), reconnect=reconnect)
    store.save_fill(fill(1))
    async with asyncio.timeout(0.5):
        await store.flush(10.0)
    assert store.backlog == 1
