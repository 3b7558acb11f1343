"""The promotion's database sync against a real Postgres behind a host that never answers.

A frozen host (TCP accepted, never a byte back: what a SIGSTOPped server looks like) first in
the DSN costs only its own connect bound, and the primary second in the DSN serves the sync.
When no host serves within the deadline, the sync fails cleanly (False, ``OutOfBandSyncFailed``)
and a promotion that needed it does not trade: the instance hands the lease back, says why, and
a later promotion (once the database answers) succeeds with the database's risk limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import aiohttp
import nats
import nats.js.errors
import pytest
from nats.aio.msg import Msg

from gameday.proxy.testing import free_port, served
from gameday.stack.postgres import read_write_dsn
from tests.integration.pg_single import pg_template, postgres
from tests.integration.test_oms_support import (
    ADMIN,
    TinyVenue,
    deep_ok,
    get_json,
    nats_server,
    oms_config,
    service,
    wait_until,
)
from trading_stack.book import Book
from trading_stack.config import OmsConfig
from trading_stack.db_sync import save_risk_limit
from trading_stack.gateway import OrderGateway
from trading_stack.models import Order, OrderStatus, OrdType, Side
from trading_stack.risk import RiskLimits
from trading_stack.store import Store
from trading_stack.venue_sync import OUT_OF_BAND_SYNC_FAILED, VenueSync

pytestmark = pytest.mark.integration
__all__ = ["pg_template"]


@dataclass
class FrozenHost:
    """Accepts connections and never answers."""

    port: int = 0
    accepted: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def frozen_host() -> AsyncIterator[FrozenHost]:
    frozen = FrozenHost()

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        frozen.accepted += 1
        frozen.writers.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    frozen.port = int(server.sockets[0].getsockname()[1])
    try:
        yield frozen
    finally:
        server.close()
        for writer in frozen.writers:
            writer.close()


@dataclass
class Synced:
    sync: VenueSync
    book: Book
    risk: RiskLimits
    alerts: list[tuple[str, dict[str, Any]]]


def venue_sync(dsn: str, connect_timeout_s: float, deadline_s: float) -> Synced:
    config = OmsConfig(instance_id="dr", initial_role="standby", http_port=0, admin_token="t", fix_port=1,
                       fix_sender_comp_id="DR", nats_url="nats://127.0.0.1:1", database_dsn=dsn,
                       db_connect_timeout_s=connect_timeout_s, db_sync_deadline_s=deadline_s)
    book, risk = Book(), RiskLimits()
    alerts: list[tuple[str, dict[str, Any]]] = []

    def alert(name: str, detail: Mapping[str, Any]) -> None:
        alerts.append((name, dict(detail)))

    sync = VenueSync(config, book, cast(OrderGateway, None), risk, alert, lambda *_: cast(Any, None),
                     lambda: None)
    return Synced(sync, book, risk, alerts)


def resting(n: int) -> Order:
    return Order(order_id=f"primary-1-{n}", exchange_order_id=f"X{n}", instance="primary", symbol="ETH-USD",
                 side=Side.BUY, ord_type=OrdType.LIMIT, qty=2, cum_qty=0, price=90.0, status=OrderStatus.NEW)


async def store_order(dsn: str, order: Order) -> None:
    store = Store(dsn)
    store.save_order(order)
    task = asyncio.create_task(store.run())
    try:
        await wait_until(lambda: store.written == 1, 10, "the resting order stored")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_frozen_first_host_costs_its_bound_and_the_primary_second_serves_the_sync(
        tmp_path: Path, pg_template: Path) -> None:
    async with postgres(tmp_path, pg_template) as pg, frozen_host() as frozen:
        await save_risk_limit(pg.dsn, "BTC-USD", 5, "ops", 5.0)
        await store_order(pg.dsn, resting(1))
        dsn = read_write_dsn([frozen.address, pg.address], password=pg.password)
        synced = venue_sync(dsn, connect_timeout_s=0.5, deadline_s=6.0)
        started = time.monotonic()
        assert await synced.sync.sync_out_of_band_state(adopt_orders=True)
        took = time.monotonic() - started
        assert frozen.accepted == 1  # asked first, and only once
        assert 0.5 <= took < 3.0
        assert synced.risk.as_dict() == {"BTC-USD": 5}
        assert [o.order_id for o in synced.book.open_orders()] == ["primary-1-1"]
        assert synced.alerts == []


async def test_with_no_host_answering_the_sync_fails_cleanly_within_its_deadline() -> None:
    async with frozen_host() as frozen:
        refused = f"127.0.0.1:{free_port()}"
        synced = venue_sync(read_write_dsn([frozen.address, refused]), connect_timeout_s=0.3, deadline_s=2.0)
        synced.risk.set("ETH-USD", 7)
        started = time.monotonic()
        assert not await synced.sync.sync_out_of_band_state(adopt_orders=True)
        took = time.monotonic() - started
        assert 2.0 <= took < 4.0
        assert frozen.accepted >= 2  # retried: more than one pass
        [(name, detail)] = synced.alerts
        assert name == OUT_OF_BAND_SYNC_FAILED
        assert frozen.address in detail["error"]
        assert refused in detail["error"]
        assert synced.risk.as_dict() == {"ETH-USD": 7}  # nothing replaced
        # a start (no retry) makes one pass: the frozen host's bound, then the refusal
        started = time.monotonic()
        assert not await synced.sync.sync_out_of_band_state(adopt_orders=False, retry=False)
        assert time.monotonic() - started < 1.5


FAST_LEASE = {"lease_ttl_s": 1.5, "lease_renew_interval_s": 0.25, "lease_safety_margin_s": 0.4}


async def lease_holder(js: Any) -> str | None:
    kv = await js.key_value("oms_lease")
    try:
        entry = await kv.get("active")
    except nats.js.errors.KeyNotFoundError:
        return None
    return str(json.loads(entry.value)["instance"])


async def test_a_promotion_without_its_database_state_does_not_trade_and_a_later_one_does(
        tmp_path: Path, pg_template: Path) -> None:
    async with contextlib.AsyncExitStack() as stack:
        pg = await stack.enter_async_context(postgres(tmp_path, pg_template))
        await save_risk_limit(pg.dsn, "BTC-USD", 5, "ops", 5.0)
        _, api = await stack.enter_async_context(served(seed=3))
        port = await api.create_proxy("dr->postgres", pg.port)
        await api.add_toxic("dr->postgres", "timeout", name="frozen", attributes={"timeout": 0})
        nats_url = await stack.enter_async_context(nats_server(tmp_path))
        venue = await stack.enter_async_context(TinyVenue())
        http = await stack.enter_async_context(aiohttp.ClientSession())
        nc = await nats.connect(nats_url)
        stack.push_async_callback(nc.close)
        events: list[tuple[str, dict[str, Any]]] = []

        async def record(msg: Msg) -> None:
            events.append((msg.subject, json.loads(msg.data)))

        await nc.subscribe("oms.>", cb=record)
        config = oms_config("dr", "standby", venue.port, nats_url, **FAST_LEASE,
                            database_dsn=f"postgresql://postgres:{pg.password}@127.0.0.1:{port}/postgres",
                            db_connect_timeout_s=0.3, db_sync_deadline_s=2.0)
        dr = await stack.enter_async_context(service("trading_stack.oms", "dr", config, tmp_path))
        await wait_until(lambda: deep_ok(http, dr), 15, "the standby ready")

        def roles() -> list[tuple[str, str]]:
            return [(body["role"], body["reason"]) for subject, body in events if subject == "oms.roles"]

        async with http.post(f"{dr.url}/admin/promote", headers=ADMIN) as response:
            assert response.status == 202
        await wait_until(lambda: any("promotion abandoned" in reason for _, reason in roles()), 10,
                         "the promotion abandoned")
        assert roles()[-1][0] == "fenced"
        alerts = [body["alert"] for subject, body in events if subject == "oms.alerts"]
        assert alerts == [OUT_OF_BAND_SYNC_FAILED]
        assert "DR" not in venue.logons  # it never logged on, so it never sent
        body = {"symbol": "BTC-USD", "side": "buy", "qty": 1, "type": "market"}
        async with http.post(f"{dr.url}/orders", json=body) as response:
            assert response.status == 503
        assert await lease_holder(nc.jetstream()) is None  # handed back for another candidate

        await api.remove_toxic("dr->postgres", "frozen")  # the database answers again
        async with http.post(f"{dr.url}/admin/promote", headers=ADMIN) as response:
            assert response.status == 202
        await wait_until(lambda: deep_ok(http, dr), 15, "the second promotion")
        _, role = await get_json(http, f"{dr.url}/role")
        assert role["role"] == "active"
        assert await lease_holder(nc.jetstream()) == "dr"
        async with http.post(f"{dr.url}/orders", json={**body, "qty": 6}) as response:
            assert response.status == 422  # the limit the database held is enforced
        async with http.post(f"{dr.url}/orders", json=body) as response:
            assert response.status == 201
