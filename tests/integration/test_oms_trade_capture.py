"""Executions nobody heard of, over real processes: Postgres, nats-server, the mock venue (in
process, stepped by hand) and two OMS processes. A fill the venue executes while no OMS session is
logged on (the primary SIGKILLed, the DR not promoted yet) must reach the promoted DR's book, the
stream and ``oms_fills``; the positions must still equal the venue's; and while an order adopted
from the primary stays open, the DR follows it with OrderStatusRequest and trade capture, never
re-reading the whole day (one AF: the promotion's).
"""

from __future__ import annotations

import contextlib
import json
import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import nats
import pytest
from nats.aio.msg import Msg

from gameday.stack.postgres import ensure_postgres_template, start_postgres
from gameday.stack.process import ManagedProcess
from mock_exchange.config import SessionConfig, SymbolConfig, VenueConfig
from mock_exchange.fix.codec import FixMessage
from mock_exchange.fix.session import FixSession
from mock_exchange.venue import Venue
from tests.integration.test_deploy_support import DeployBed, pg_cache
from tests.integration.test_oms_support import nats_server, wait_until

pytestmark = pytest.mark.integration

Received = Counter[tuple[str, bytes]]  # application messages at the venue by (SenderCompID, MsgType)


@contextlib.asynccontextmanager
async def hand_stepped_bed(tmp: Path, cache: Path) -> AsyncIterator[tuple[DeployBed, Received]]:
    """The deploy test bed, but the venue trades only when the test calls ``venue.step()``; and a
    count of the application messages the venue received, by (SenderCompID, MsgType)."""
    processes: list[ManagedProcess] = []
    async with contextlib.AsyncExitStack() as stack:
        async def stop_postgres() -> None:
            for process in processes:
                await process.stop()

        stack.push_async_callback(stop_postgres)
        postgres = await start_postgres(tmp / "pg", ensure_postgres_template(cache), tmp / "pg.log",
                                        processes.append)
        nats_url = await stack.enter_async_context(nats_server(tmp))
        config = VenueConfig(
            fix_port=0, admin_port=0, ledger_path=tmp / "ledger.jsonl", seed=5, fill_probability=1.0,
            tick_interval_s=3600,
            sessions=(SessionConfig(sender_comp_id="OMS-BLUE"), SessionConfig(sender_comp_id="OMS-GREEN")),
            symbols=(SymbolConfig(symbol="BTC-USD", start_price=100.0, volatility_bps=0.0),),
        )
        venue = await stack.enter_async_context(Venue(config))
        received: Received = Counter()
        entry = venue.order_entry
        handle = entry.on_app_message

        def counting(session: FixSession, message: FixMessage) -> None:
            received[(session.sender_comp_id, message.msg_type)] += 1
            handle(session, message)

        entry.on_app_message = counting  # type: ignore[method-assign]
        http = await stack.enter_async_context(aiohttp.ClientSession())
        client = await nats.connect(nats_url)
        stack.push_async_callback(client.close)
        events: list[tuple[str, dict[str, Any]]] = []

        async def record(msg: Msg) -> None:
            events.append((msg.subject, json.loads(msg.data)))

        await client.subscribe("oms.>", cb=record)
        yield DeployBed(tmp, nats_url, postgres.dsn, venue, http, events, stack), received


def fill_until_done(venue: Venue, cl_ord_id: str) -> list[str]:
    """Step the venue until the order is filled; the exec ids of its fills."""
    order = venue.ledger.order_by_cl_ord_id(cl_ord_id)
    assert order is not None
    while order.is_open:
        venue.step()
    return [fill.exec_id for fill in venue.ledger.fills if fill.cl_ord_id == cl_ord_id]


async def test_fills_while_no_oms_is_logged_on_reach_the_promoted_dr_and_the_database(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    async with hand_stepped_bed(tmp_path, pg_cache(tmp_path_factory)) as (bed, received):
        primary = await bed.oms("oms-blue", "active")
        dr = await bed.oms("oms-green", "standby")
        status, mirrored = await bed.place(primary, type="market", price=None, qty=1)
        assert status == 201, mirrored
        mirrored_fills = fill_until_done(bed.venue, mirrored["order_id"])

        async def dr_mirrored() -> bool:
            _, body = await bed.call(dr, "GET", "/positions")
            return bool(body == {"positions": {"BTC-USD": 1}, "fills": 1})

        await wait_until(dr_mirrored, 10, "the standby to mirror the first fill")
        status, resting = await bed.place(primary, qty=5)  # a limit far below: stays open, adopted
        assert status == 201, resting
        status, dead = await bed.place(primary, type="market", price=None, qty=3)  # fills after the kill
        assert status == 201, dead

        async def stored_open() -> bool:
            rows = await bed.rows("SELECT cl_ord_id FROM oms_orders WHERE status = 'new'")
            return {row["cl_ord_id"] for row in rows} == {resting["order_id"], dead["order_id"]}

        await wait_until(stored_open, 10, "the open orders in Postgres")
        primary.proc.send_signal(signal.SIGKILL)
        await primary.proc.wait()
        await wait_until(lambda: not bed.venue.sessions.logged_on(), 10, "the venue to see the primary gone")
        dead_fills = fill_until_done(bed.venue, dead["order_id"])  # nobody logged on hears of these

        status, _ = await bed.admin(dr, "/admin/promote")
        assert status == 202
        await bed.deep_ready(dr)
        _, role = await bed.call(dr, "GET", "/role")
        assert role["role"] == "active"

        [recovered] = bed.alerts("ExecutionsRecovered", "oms-green")
        assert recovered["recovered"] == recovered["already_in_positions"] == len(dead_fills)
        assert sorted(recovered["exec_ids"]) == sorted(dead_fills)
        published = {body["exec_id"] for body in bed.messages("fills")}
        assert set(dead_fills) <= published
        _, positions = await bed.call(dr, "GET", "/positions")
        assert positions == {"positions": await bed.ledger_positions(), "fills": 1 + len(dead_fills)}
        assert positions["positions"] == {"BTC-USD": 4}  # counted once: the mass status had them already

        async def in_the_database() -> bool:
            rows = await bed.rows("SELECT exec_id FROM oms_fills")
            return {row["exec_id"] for row in rows} == {*mirrored_fills, *dead_fills}

        await wait_until(in_the_database, 10, "every venue fill in oms_fills")

        # the adopted order is open: the DR looks at it twice a second, at the cost of what changed
        await wait_until(lambda: received[("OMS-GREEN", b"H")] >= 3, 10, "three looks at the adopted order")
        assert received[("OMS-GREEN", b"AD")] >= 3
        assert received[("OMS-GREEN", b"AF")] == 1  # the promotion's reconciliation, and never again
