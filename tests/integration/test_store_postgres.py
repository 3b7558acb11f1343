"""The OMS store against a real Postgres: behind a slow hop it batches, so the backlog it builds
is visible and drains; with the database unreachable, a close (and the OMS's shutdown) says how
many rows were not written."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from gameday.proxy.testing import ApiClient, free_port, served
from gameday.stack.postgres import PostgresService
from tests.integration.pg_single import pg_template, postgres
from tests.integration.test_postgres_replica import fetch_rows
from trading_stack.config import OmsConfig
from trading_stack.models import Fill, Order, OrderStatus, OrdType, Side
from trading_stack.oms import Oms
from trading_stack.store import STORE_ROWS_NOT_WRITTEN, Store, StoreBacklog

pytestmark = pytest.mark.integration
__all__ = ["pg_template"]

LATENCY_MS = 40  # each way: a round trip costs ~80 ms
ORDERS = 150  # an order update, a fill and a final update each: 450 rows, ~36 s one at a time


def order(n: int, status: OrderStatus, cum_qty: int) -> Order:
    return Order(order_id=f"oms-1-{n}", exchange_order_id=f"X{n}", instance="oms-primary", symbol="BTC-USD",
                 side=Side.BUY, ord_type=OrdType.MARKET, qty=1, cum_qty=cum_qty, price=None, status=status)


def fill(n: int) -> Fill:
    return Fill(exec_id=f"E{n}", order_id=f"oms-1-{n}", exchange_order_id=f"X{n}", symbol="BTC-USD",
                side=Side.BUY, qty=1, price=100.0, t_ns=n, instance="oms-primary")


@asynccontextmanager
async def running(store: Store) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(store.run())
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@asynccontextmanager
async def proxied(pg: PostgresService) -> AsyncIterator[tuple[ApiClient, str]]:
    """An in-process Toxiproxy in front of ``pg``, and the DSN through it."""
    async with served(seed=7) as (_, api):
        port = await api.create_proxy("app->postgres", pg.port)
        yield api, f"postgresql://postgres:{pg.password}@127.0.0.1:{port}/postgres?target_session_attrs=read-write"


async def sample_until(store: Store, done: Any, timeout_s: float) -> list[StoreBacklog]:
    samples: list[StoreBacklog] = []
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"not done after {timeout_s}s: {store.backlog_stats()}"
        samples.append(store.backlog_stats())
        await asyncio.sleep(0.02)
    samples.append(store.backlog_stats())
    return samples


async def test_behind_a_slow_hop_the_backlog_is_visible_and_drains_in_batches(
        tmp_path: Path, pg_template: Path) -> None:
    async with postgres(tmp_path, pg_template) as pg, proxied(pg) as (api, dsn):
        for stream in ("upstream", "downstream"):
            await api.add_toxic("app->postgres", "latency", stream=stream, attributes={"latency": LATENCY_MS})
        store = Store(dsn)
        async with running(store):
            await sample_until(store, lambda: store.connected, 10.0)
            started = time.monotonic()
            for n in range(ORDERS):  # the order path's pace: nothing here waits on the database
                store.save_order(order(n, OrderStatus.NEW, 0))
                store.save_fill(fill(n))
                store.save_order(order(n, OrderStatus.FILLED, 1))
                await asyncio.sleep(0)
            produced = 3 * ORDERS
            samples = await sample_until(store, lambda: store.backlog == 0, 20.0)
            drained_s = time.monotonic() - started
        assert max(s.queued for s in samples) > 0
        assert max(s.oldest_age_s for s in samples) > 0
        assert (samples[-1].queued, samples[-1].written, samples[-1].dropped) == (0, produced, 0)
        assert store.batches < produced / 10  # batched, not one statement per row
        assert drained_s < produced * 2 * LATENCY_MS / 1000 / 10
        fills = await fetch_rows(pg.dsn, "SELECT count(*) AS n FROM oms_fills")
        orders = await fetch_rows(pg.dsn, "SELECT status, count(*) AS n FROM oms_orders GROUP BY status")
        assert fills[0]["n"] == ORDERS
        assert [(row["status"], row["n"]) for row in orders] == [("filled", ORDERS)]


async def test_a_close_with_the_database_gone_counts_the_rows_not_written(
        tmp_path: Path, pg_template: Path) -> None:
    async with postgres(tmp_path, pg_template) as pg, proxied(pg) as (api, dsn):
        store = Store(dsn, statement_timeout_s=1.0)
        async with running(store):
            store.save_fill(fill(0))
            await sample_until(store, lambda: store.written == 1, 10.0)
            await api.call("POST", "/proxies/app->postgres", {"enabled": False})  # the hop is cut
            for n in range(1, 6):
                store.save_fill(fill(n))
            started = time.monotonic()
            not_written = await store.close(1.0)
            assert 1.0 <= time.monotonic() - started < 3.0  # the flush waited its bound, no more
            store.save_fill(fill(6))
        assert not_written == 5
        assert (store.backlog_stats().written, store.backlog_stats().dropped) == (1, 6)
        rows = await fetch_rows(pg.dsn, "SELECT exec_id FROM oms_fills")
        assert [row["exec_id"] for row in rows] == ["E0"]


class RecordingOms(Oms):
    def __init__(self, config: OmsConfig) -> None:
        super().__init__(config)
        self.alerts: list[tuple[str, dict[str, Any]]] = []

    def alert(self, alert: str, detail: Mapping[str, Any]) -> None:
        self.alerts.append((alert, dict(detail)))
        super().alert(alert, detail)


async def test_an_oms_shutting_down_without_its_database_alerts_the_rows_not_written() -> None:
    dead = free_port()
    config = OmsConfig(instance_id="oms-primary", initial_role="standby", http_port=0, admin_token="t",
                       fix_port=free_port(), fix_sender_comp_id="OMS", nats_url=f"nats://127.0.0.1:{free_port()}",
                       database_dsn=f"postgresql://postgres@127.0.0.1:{dead}/postgres")
    oms = RecordingOms(config)
    for n in range(3):
        oms.store.save_fill(fill(n))
    stop = asyncio.Event()
    stop.set()
    async with asyncio.timeout(15):
        await oms.run(stop, on_ready=lambda _port: None)
    [(_, detail)] = [a for a in oms.alerts if a[0] == STORE_ROWS_NOT_WRITTEN]
    assert (detail["rows"], detail["written"], detail["dropped"], detail["connected"]) == (3, 0, 3, False)
