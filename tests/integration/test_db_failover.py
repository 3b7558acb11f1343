"""Database failover for real: a primary and its streaming replica, NATS, the fault proxy on the
store's two hops, and the ``db-failover`` daemon as a child process. The primary's whole process
group is SIGKILLed under load; the daemon promotes the replica and says so on NATS, and the OMS
store follows it without losing a fill — unless it carries the ``no-db-reconnect`` defect.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import nats
import pytest

from gameday.faults.toxiproxy_client import ToxiproxyClient
from gameday.stack.postgres import read_write_dsn, signal_with_children, wal_receiver_status
from gameday.stack.services import start_nats, start_python_service, write_config
from tests.integration.test_oms_support import wait_until
from tests.integration.test_postgres_replica import ReplicatedPostgres, fetch_rows, replicated_postgres
from trading_stack.config import DbFailoverConfig
from trading_stack.models import Fill, Side
from trading_stack.store import Store

pytestmark = pytest.mark.integration


@dataclass
class Bed:
    """Everything the tests need, all running."""

    pair: ReplicatedPostgres
    store_dsn: str
    daemon_url: str
    session: aiohttp.ClientSession
    events: list[dict[str, Any]] = field(default_factory=list)

    def changes(self) -> list[dict[str, Any]]:
        """The decision changes, without the once-a-second heartbeats between them."""
        return [event for event in self.events if not event.get("heartbeat")]

    def decisions(self) -> list[str]:
        return [event["decision"] for event in self.changes()]


async def _proxied_dsn(pair: ReplicatedPostgres, toxiproxy_url: str, session: aiohttp.ClientSession) -> str:
    client = ToxiproxyClient(toxiproxy_url, session)
    created = await client.populate([
        {"name": "app->postgres", "listen": "127.0.0.1:0", "upstream": pair.primary.address, "enabled": True},
        {"name": "app->postgres-replica", "listen": "127.0.0.1:0", "upstream": pair.replica.address,
         "enabled": True},
    ])
    listen = {proxy["name"]: proxy["listen"] for proxy in created}
    return read_write_dsn([listen["app->postgres"], listen["app->postgres-replica"]],
                          password=pair.primary.password)


@asynccontextmanager
async def failover_bed(tmp_path: Path) -> AsyncIterator[Bed]:
    async with AsyncExitStack() as stack:
        pair = await stack.enter_async_context(replicated_postgres(tmp_path))
        track = pair.processes.track
        session = await stack.enter_async_context(aiohttp.ClientSession())
        nats_service = await start_nats(tmp_path / "nats", session, track)
        toxiproxy = await start_python_service(
            "toxiproxy", "gameday.proxy", ["--host", "127.0.0.1", "--port", "0", "--seed", "1"],
            tmp_path / "toxiproxy.log", ready_url="http://127.0.0.1:{api}/version", session=session,
            on_spawn=track)
        config = DbFailoverConfig(http_port=0, primary_dsn=pair.primary.dsn, replica_dsn=pair.replica.dsn,
                                  nats_url=nats_service.url)
        path = write_config(tmp_path / "db-failover.json", config.model_dump_json())
        daemon = await start_python_service(
            "db-failover", "trading_stack.db_failover", ["--config", str(path)], tmp_path / "db-failover.log",
            ready_url="http://127.0.0.1:{http}/health", session=session, on_spawn=track)
        bed = Bed(pair, await _proxied_dsn(pair, f"http://127.0.0.1:{toxiproxy.ports['api']}", session),
                  f"http://127.0.0.1:{daemon.ports['http']}", session)
        client = await nats.connect(nats_service.url)
        stack.push_async_callback(client.close)

        async def record(msg: Any) -> None:
            bed.events.append(json.loads(msg.data))

        await client.subscribe("oms.failover", cb=record)
        await client.flush()
        yield bed


def fill(n: int) -> Fill:
    return Fill(exec_id=f"E{n:03d}", order_id=f"oms-primary-1-{n}", exchange_order_id=f"X{n}",
                symbol=("BTC-USD", "ETH-USD")[n % 2], side=Side.BUY, qty=1, price=100.0, t_ns=n,
                instance="oms-primary")


async def stored_fills(dsn: str) -> list[str]:
    rows = await fetch_rows(dsn, "SELECT exec_id FROM oms_fills ORDER BY exec_id")
    return [row["exec_id"] for row in rows]


async def daemon_status(bed: Bed) -> dict[str, Any]:
    async with bed.session.get(f"{bed.daemon_url}/status") as response:
        body: dict[str, Any] = await response.json()
        return body


async def trade(store: Store, numbers: range, interval_s: float = 0.01) -> None:
    for n in numbers:
        store.save_fill(fill(n))
        await asyncio.sleep(interval_s)  # the order flow's pace, not a wait for readiness


async def kill_primary_under_load(bed: Bed, store: Store, sig: signal.Signals = signal.SIGKILL) -> None:
    """Fills 0-29 before the primary is signalled, 30-89 while it is out and after."""
    await trade(store, range(30))
    await wait_until(lambda: store.backlog == 0, 10.0, "the first fills written")
    status = await daemon_status(bed)
    assert (status["state"], status["consecutive_failures"]) == ("healthy", 0)
    signal_with_children(bed.pair.primary.process, sig)  # what the harness's kill and pause faults do
    await trade(store, range(30, 90))


@asynccontextmanager
async def running(store: Store) -> AsyncIterator[None]:
    task = asyncio.create_task(store.run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_replica_is_promoted_and_the_store_loses_no_fill(tmp_path: Path) -> None:
    async with failover_bed(tmp_path) as bed:
        store = Store(bed.store_dsn)
        async with running(store):
            await kill_primary_under_load(bed, store)
            await wait_until(lambda: "promoted" in bed.decisions(), 15.0, "the promotion event")
            await wait_until(lambda: store.backlog == 0, 15.0, "every fill written after the failover")

        assert await wal_receiver_status(bed.pair.replica.dsn) is None  # out of recovery: a primary
        assert await stored_fills(bed.pair.replica.dsn) == [fill(n).exec_id for n in range(90)]
        assert store.connections == 2
        assert bed.decisions() == ["suspect", "promote", "promoted"]
        _, promote, promoted = bed.changes()
        assert promote["daemon"] == "db-failover"
        assert promote["detail"]["failures"] == [3]
        assert promote["t_ns"] <= promoted["t_ns"]
        assert promoted["detail"]["replica"] == bed.pair.replica.address
        assert (await daemon_status(bed))["state"] == "promoted"


async def test_the_no_db_reconnect_store_loses_the_fills_after_the_kill(tmp_path: Path) -> None:
    async with failover_bed(tmp_path) as bed:
        store = Store(bed.store_dsn, reconnect=False)
        async with running(store):
            await kill_primary_under_load(bed, store)
            await wait_until(lambda: "promoted" in bed.decisions(), 15.0, "the promotion event")
            await wait_until(lambda: store.gave_up, 15.0, "the store to give up")

        persisted = await stored_fills(bed.pair.replica.dsn)
        assert persisted == [fill(n).exec_id for n in range(30)]
        assert store.backlog == 60
        assert store.connections == 1


async def test_a_paused_primary_that_comes_back_is_fenced_and_no_fill_is_lost(tmp_path: Path) -> None:
    async with failover_bed(tmp_path) as bed:
        store = Store(bed.store_dsn)
        async with running(store):
            await kill_primary_under_load(bed, store, signal.SIGSTOP)
            await wait_until(lambda: "promoted" in bed.decisions(), 15.0, "the promotion event")
            signal_with_children(bed.pair.primary.process, signal.SIGCONT)

            async def fenced() -> bool:
                return (await daemon_status(bed))["old_primary_fenced_ns"] is not None

            await wait_until(fenced, 10.0, "the old primary fenced")
            await wait_until(lambda: store.backlog == 0, 20.0, "every fill written after the failover")

        assert await stored_fills(bed.pair.replica.dsn) == [fill(n).exec_id for n in range(90)]
        [old] = await fetch_rows(bed.pair.primary.dsn, "SHOW default_transaction_read_only")
        assert old["default_transaction_read_only"] == "on"
        assert bed.decisions() == ["suspect", "promote", "promoted"]


@pytest.mark.parametrize(("content", "expected"), [
    ('{"http_port": 0}', "primary_dsn"),
    ("not json", "Invalid JSON"),
    (None, "No such file"),
])
def test_a_bad_config_exits_2_with_a_clear_message(tmp_path: Path, content: str | None,
                                                   expected: str) -> None:
    path = tmp_path / "db-failover.json"
    if content is not None:
        path.write_text(content)
    done = subprocess.run([sys.executable, "-m", "trading_stack.db_failover", "--config", str(path)],
                          capture_output=True, text=True, timeout=30)

    assert done.returncode == 2
    assert "invalid configuration" in done.stderr
    assert expected in done.stderr
    assert "Traceback" not in done.stderr
