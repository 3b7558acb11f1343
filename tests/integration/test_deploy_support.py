"""A deploy test bed of real parts: nats-server, Postgres, the mock venue (in process), OMS processes.

Every OMS instance logs on to the venue with its own SenderCompID (``OMS-BLUE``, ...) and stores
in the same database, as the blue-green stack does; the bed records every ``oms.>``, ``deploy.>`` and
``frontdoor.>`` message.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import nats
import pytest
from nats.aio.msg import Msg

from gameday.stack.postgres import ensure_postgres_template, start_postgres
from gameday.stack.process import ManagedProcess
from mock_exchange.config import SessionConfig, SymbolConfig, VenueConfig
from mock_exchange.venue import Venue
from tests.integration.test_oms_support import ADMIN, Service, nats_server, oms_config, service, wait_until

pytestmark = pytest.mark.integration

INSTANCES = ("oms-blue", "oms-green", "oms-other")
FAST = {
    "lease_ttl_s": 1.5, "lease_renew_interval_s": 0.25, "lease_safety_margin_s": 0.4,
    "shutdown_cancel_timeout_s": 1.0, "shutdown_fill_wait_s": 0.5, "role_change_timeout_s": 10.0,
}
FAR_BELOW = 1.0  # a buy limit price that never trades


@dataclass
class DeployBed:
    tmp: Path
    nats_url: str
    dsn: str
    venue: Venue
    http: aiohttp.ClientSession
    events: list[tuple[str, dict[str, Any]]]
    exit: contextlib.AsyncExitStack

    async def oms(self, name: str, role: str, *, ready: bool = True, **extra: Any) -> Service:
        config = oms_config(name, role, self.venue.fix_port, self.nats_url,
                            **{**FAST, "database_dsn": self.dsn, **extra})
        svc = await self.exit.enter_async_context(service("trading_stack.oms", name, config, self.tmp))
        if ready:
            await self.deep_ready(svc)
        return svc

    async def deep_ready(self, svc: Service, timeout_s: float = 15) -> None:
        async def ready() -> bool:
            try:
                status, _ = await self.call(svc, "GET", "/health/deep")
            except aiohttp.ClientError:
                return False
            return status == 200

        await wait_until(ready, timeout_s, f"{svc.name} deep health")

    async def call(self, svc: Service, method: str, path: str, body: Any = None,
                   headers: dict[str, str] | None = None) -> tuple[int, Any]:
        async with self.http.request(method, f"{svc.url}{path}", json=body, headers=headers) as response:
            return response.status, await response.json()

    async def admin(self, svc: Service, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
        return await self.call(svc, "POST", path, body, {**ADMIN, **headers})

    async def place(self, svc: Service, **order: Any) -> tuple[int, Any]:
        body = {"symbol": "BTC-USD", "side": "buy", "qty": 1, "type": "limit", "price": FAR_BELOW, **order}
        return await self.call(svc, "POST", "/orders", body)

    async def venue_api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        url = f"http://127.0.0.1:{self.venue.admin_port}{path}"
        async with self.http.request(method, url, json=body) as response:
            text = await response.text()
            return response.status, (json.loads(text) if text else None)

    async def open_at_venue(self) -> list[dict[str, Any]]:
        status, orders = await self.venue_api("GET", "/ledger/orders?status=open")
        assert status == 200, orders
        return list(orders)

    async def ledger_positions(self) -> dict[str, int]:
        _, fills = await self.venue_api("GET", "/ledger/fills")
        positions: dict[str, int] = {}
        for fill in fills:
            sign = 1 if fill["side"] == "buy" else -1
            positions[fill["symbol"]] = positions.get(fill["symbol"], 0) + sign * fill["qty"]
        return {symbol: qty for symbol, qty in positions.items() if qty}

    def messages(self, suffix: str, instance: str | None = None) -> list[dict[str, Any]]:
        return [body for subject, body in self.events
                if subject == f"oms.{suffix}" and (instance is None or body.get("instance") == instance)]

    def events_on(self, subject: str) -> list[dict[str, Any]]:
        return [body for name, body in self.events if name == subject]

    def alerts(self, alert: str, instance: str | None = None) -> list[dict[str, Any]]:
        return [a["detail"] for a in self.messages("alerts", instance) if a["alert"] == alert]

    async def rows(self, query: str, *args: Any) -> list[asyncpg.Record]:
        connection = await asyncpg.connect(self.dsn, timeout=2.0)
        try:
            return list(await connection.fetch(query, *args))
        finally:
            await connection.close()


def venue_config(tmp: Path) -> VenueConfig:
    return VenueConfig(
        fix_port=0, admin_port=0, ledger_path=tmp / "ledger.jsonl", seed=5, fill_probability=1.0,
        tick_interval_s=0.02,
        sessions=tuple(SessionConfig(sender_comp_id=name.upper()) for name in INSTANCES),
        symbols=(SymbolConfig(symbol="BTC-USD", start_price=100.0, volatility_bps=0.0),
                 SymbolConfig(symbol="ETH-USD", start_price=10.0, volatility_bps=0.0)),
    )


@contextlib.asynccontextmanager
async def deploy_bed(
    tmp: Path, pg_cache: Path, *, venue_at: VenueConfig | None = None,
    subjects: tuple[str, ...] = ("oms.>", "deploy.>", "frontdoor.>"),
) -> AsyncIterator[DeployBed]:
    """Postgres, NATS (recording ``subjects``), the venue (``venue_at``, else this bed's) and a session."""
    processes: list[ManagedProcess] = []
    async with contextlib.AsyncExitStack() as stack:
        async def stop_postgres() -> None:
            for process in processes:
                await process.stop()

        stack.push_async_callback(stop_postgres)
        postgres = await start_postgres(tmp / "pg", ensure_postgres_template(pg_cache), tmp / "pg.log",
                                        processes.append)
        nats_url = await stack.enter_async_context(nats_server(tmp))
        venue = await stack.enter_async_context(Venue(venue_at or venue_config(tmp)))
        http = await stack.enter_async_context(aiohttp.ClientSession())
        client = await nats.connect(nats_url)
        stack.push_async_callback(client.close)
        events: list[tuple[str, dict[str, Any]]] = []

        async def record(msg: Msg) -> None:
            events.append((msg.subject, json.loads(msg.data)))

        for subject in subjects:
            await client.subscribe(subject, cb=record)
        yield DeployBed(tmp, nats_url, postgres.dsn, venue, http, events, stack)


def pg_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Postgres template per test session."""
    return tmp_path_factory.getbasetemp() / "pg-cache"


@pytest.fixture
async def bed(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DeployBed]:
    async with deploy_bed(tmp_path, pg_cache(tmp_path_factory)) as running:
        yield running


async def test_the_bed_trades_through_the_real_venue_and_stores_in_postgres(bed: DeployBed) -> None:
    blue = await bed.oms("oms-blue", "active")
    status, order = await bed.place(blue, type="market", price=None, qty=2)
    assert status == 201, order
    await wait_until(lambda: bed.messages("fills", "oms-blue"), 5, "the fill on oms.fills")

    async def stored() -> bool:
        rows = await bed.rows("SELECT COALESCE(SUM(qty), 0) AS lots FROM oms_fills")
        return bool(rows[0]["lots"] == 2)

    await wait_until(stored, 5, "the fill in Postgres")
    assert await bed.ledger_positions() == {"BTC-USD": 2}
