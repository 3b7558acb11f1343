"""The OMS store against an in-memory database that can die and come back: writes are queued,
applied in order in batches, kept until acknowledged, and survive a reconnect — unless the store
carries the ``no-db-reconnect`` defect, which gives up after the first lost connection. The
backlog is visible, and a close counts what it could not write.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from trading_stack.models import Fill, Order, OrderStatus, OrdType, Side
from trading_stack.store import DbConnection, Store, StoreBacklog, publish_backlog, worth_publishing
from trading_stack.store_batch import FILL_COLUMNS, ORDER_COLUMNS, SCHEMA, WRITE_BATCH, Table


class FakeDatabase:
    """Applied rows in order; ``down`` refuses connections and breaks the open ones."""

    def __init__(self) -> None:
        self.applied: list[tuple[Table, tuple[Any, ...]]] = []
        self.statements = 0
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

    def apply_batch(self, columns: tuple[list[Any], ...]) -> None:
        orders, fills = columns[:len(ORDER_COLUMNS)], columns[len(ORDER_COLUMNS):]
        assert len(fills) == len(FILL_COLUMNS)
        self.applied += [(Table.ORDERS, row) for row in zip(*orders, strict=True)]
        self.applied += [(Table.FILLS, row) for row in zip(*fills, strict=True)]
        self.statements += 1

    def fill_ids(self) -> list[str]:
        return [str(values[0]) for table, values in self.applied if table is Table.FILLS]


class FakeConnection:
    def __init__(self, database: FakeDatabase, epoch: int) -> None:
        self._db = database
        self._epoch = epoch

    async def execute(self, query: str, *args: Any) -> str:
        self._db.check(self._epoch)
        assert query == SCHEMA
        return "CREATE TABLE"

    async def fetchval(self, query: str, *args: Any) -> int:
        self._db.check(self._epoch)
        if query == "SELECT 1":
            return 1
        assert query == WRITE_BATCH
        if self._db.fail_next_write:  # the connection dies while the write is in flight
            self._db.fail_next_write = False
            self._db.kill()
            self._db.check(self._epoch)
        self._db.apply_batch(args)
        return 1000 + self._db.statements  # the batch's transaction id

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


def make_store(database: FakeDatabase, *, reconnect: bool = True, batch_max: int = 1000,
               clock: Callable[[], float] = time.monotonic) -> Store:
    return Store("postgresql://p:1,r:2/postgres?target_session_attrs=read-write", reconnect=reconnect,
                 retry_max_s=0.02, ping_interval_s=0.01, batch_max=batch_max, connect=database.connect,
                 clock=clock)


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
    assert [table for table, _ in database.applied] == [Table.ORDERS, Table.FILLS]
    assert database.applied[1][1][:2] == ("E1", "oms-primary-1-1")
    assert (store.written, database.statements) == (2, 1)


async def test_a_backlog_is_written_in_batches_of_at_most_batch_max_rows() -> None:
    database = FakeDatabase()
    database.down = True
    store = make_store(database, batch_max=40)
    for n in range(100):
        store.save_fill(fill(n))
    async with running(store):
        await until(lambda: database.refused >= 1, "a refused connection")
        database.down = False
        await until(lambda: store.backlog == 0, "the queue to drain")
    assert database.fill_ids() == [f"E{n}" for n in range(100)]
    assert (store.written, store.batches, database.statements) == (100, 3, 3)


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


async def test_a_batch_in_flight_when_the_connection_dies_is_retried_whole() -> None:
    database = FakeDatabase()
    store = make_store(database)
    async with running(store):
        await until(lambda: store.connected, "the first connection")
        database.fail_next_write = True
        store.save_fill(fill(1))
        store.save_fill(fill(2))
        await until(lambda: not store.connected, "the loss")
        assert (store.backlog, store.backlog_stats().in_flight) == (2, 0)
        database.down = False
        await until(lambda: database.fill_ids() == ["E1", "E2"], "the retried batch")
    assert (store.backlog, store.written) == (0, 2)


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
    assert (store.backlog_stats().drained, store.backlog_stats().writing) == (False, False)
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


async def test_flush_returns_at_once_when_no_writer_can_apply_the_rows() -> None:
    database = FakeDatabase()
    store = make_store(database, reconnect=False)
    store.save_fill(fill(1))
    async with asyncio.timeout(0.5):
        assert await store.flush(10.0) == 1  # no writer running
    async with running(store) as task:
        await until(lambda: database.fill_ids() == ["E1"], "the first fill")
        database.kill()
        store.save_fill(fill(2))
        await asyncio.wait_for(task, 5.0)  # the defect: gave up
        async with asyncio.timeout(0.5):
            assert await store.flush(10.0) == 1


async def test_flush_waits_within_its_bound_for_a_reconnect() -> None:
    database = FakeDatabase()
    database.down = True
    store = make_store(database)
    store.save_fill(fill(1))
    async with running(store):
        await until(lambda: database.refused >= 1, "a refused connection")
        flushing = asyncio.create_task(store.flush(10.0))
        await until(lambda: database.refused >= 2, "another refused connection")
        assert not flushing.done()
        database.down = False
        async with asyncio.timeout(5.0):
            assert await flushing == 0
    assert database.fill_ids() == ["E1"]


async def test_close_counts_the_rows_it_could_not_write_and_drops_later_ones() -> None:
    database = FakeDatabase()
    database.down = True
    store = make_store(database)
    store.save_order(order(1))
    store.save_fill(fill(1))
    async with running(store):
        await until(lambda: database.refused >= 1, "a refused connection")
        started = time.monotonic()
        assert await store.close(0.2) == 2
        assert time.monotonic() - started >= 0.2  # it did wait for a reconnect, within the bound
        store.save_fill(fill(2))
    stats = store.backlog_stats()
    assert (stats.queued, stats.written, stats.dropped) == (2, 0, 3)
    assert database.applied == []


async def test_backlog_stats_report_the_age_of_the_oldest_row() -> None:
    now = [100.0]
    database = FakeDatabase()
    database.down = True
    store = make_store(database, clock=lambda: now[0])
    assert store.backlog_stats() == StoreBacklog(0, 0, 0.0, 0, 0, False, drained=True, writing=False)
    store.save_fill(fill(1))
    now[0] = 102.5
    store.save_fill(fill(2))
    now[0] = 103.0
    assert store.backlog_stats() == StoreBacklog(queued=2, in_flight=0, oldest_age_s=3.0, written=0,
                                                 dropped=0, connected=False, drained=False, writing=False)
    async with running(store):
        await until(lambda: store.backlog_stats().writing, "the writer to run")
        database.down = False
        await until(lambda: store.backlog == 0, "the queue to drain")
        stats = store.backlog_stats()
    assert (stats.queued, stats.oldest_age_s, stats.written, stats.connected) == (0, 0.0, 2, True)
    assert (stats.drained, stats.writing) == (True, True)
    assert store.backlog_stats().writing is False  # the writer stopped with the block


class Sink:
    def __init__(self) -> None:
        self.published: list[StoreBacklog] = []

    def store_backlog(self, backlog: StoreBacklog) -> None:
        self.published.append(backlog)


@pytest.mark.parametrize("with_sink", [True, False])
async def test_the_backlog_is_published_while_there_is_one_and_after_it_drained(with_sink: bool) -> None:
    database = FakeDatabase()
    database.down = True
    store = make_store(database)
    sink = Sink()
    publisher = asyncio.create_task(publish_backlog(store, lambda: sink if with_sink else None, 0.01))
    try:
        store.save_fill(fill(1))
        async with running(store):
            await until(lambda: database.refused >= 2, "refused connections")
            if with_sink:
                await until(lambda: len(sink.published) >= 2, "two samples of the backlog")
            database.down = False
            await until(lambda: store.backlog == 0, "the queue to drain")
            if with_sink:
                await until(lambda: sink.published[-1].queued == 0, "a sample after the drain")
    finally:
        publisher.cancel()
        await asyncio.gather(publisher, return_exceptions=True)
    if with_sink:
        assert [s.queued for s in sink.published[:2]] == [1, 1]
        assert sink.published[-1].written == 1
    else:
        assert sink.published == []


def test_an_idle_store_is_published_once_per_change() -> None:
    idle = StoreBacklog(queued=0, in_flight=0, oldest_age_s=0.0, written=5, dropped=0, connected=True,
                        drained=True, writing=True)
    busy = StoreBacklog(queued=3, in_flight=3, oldest_age_s=0.2, written=5, dropped=0, connected=True,
                        drained=False, writing=True)
    assert worth_publishing(idle, None)
    assert not worth_publishing(idle, idle)
    assert worth_publishing(busy, busy)  # a backlog is published every interval
    assert worth_publishing(idle, busy)
    assert worth_publishing(StoreBacklog(0, 0, 0.0, 5, 0, False, drained=True, writing=True), idle)
