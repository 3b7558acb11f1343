"""Graceful SIGTERM and startup reconciliation against the real venue, NATS and Postgres
(docs/deploy.md §2.4-§2.5): the venue hangs every cancel while blue stops; the restarted blue
must find its predecessor's orders, alert and cancel them — unless it carries the
``no-startup-reconcile`` defect, which trusts its checkpoint and leaves them resting."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_deploy_support import DeployBed, deploy_bed, pg_cache
from tests.integration.test_oms_support import Service, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
async def bed(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DeployBed]:
    async with deploy_bed(tmp_path, pg_cache(tmp_path_factory)) as running:
        yield running


async def rest_orders(bed: DeployBed, svc: Service, count: int) -> list[str]:
    placed = [await bed.place(svc, symbol="ETH-USD", qty=1 + n) for n in range(count)]
    assert [status for status, _ in placed] == [201] * count, placed
    return [order["order_id"] for _, order in placed]


async def sigterm(svc: Service, timeout_s: float = 15) -> int:
    svc.proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(timeout_s):
        return await svc.proc.wait()


async def stop_while_cancels_hang(bed: DeployBed) -> tuple[list[str], dict[str, Any]]:
    """Blue buys 3 lots, rests 3 orders, and is stopped while the venue hangs every cancel."""
    blue = await bed.oms("oms-blue", "active")
    assert (await bed.place(blue, type="market", price=None, qty=3))[0] == 201
    await wait_until(lambda: _positions_are(bed, {"BTC-USD": 3}), 5, "the market order to fill")
    resting = await rest_orders(bed, blue, 3)
    status, _ = await bed.venue_api("PUT", "/faults/cancel_failure", {"mode": "hang"})
    assert status == 200
    assert await sigterm(blue) == 0
    [report] = bed.alerts("ShutdownComplete", "oms-blue")
    return resting, report


async def test_a_clean_sigterm_cancels_every_open_order_checkpoints_and_exits_zero(bed: DeployBed) -> None:
    blue = await bed.oms("oms-blue", "active")
    resting = await rest_orders(bed, blue, 2)
    assert await sigterm(blue) == 0
    [report] = bed.alerts("ShutdownComplete", "oms-blue")
    outcome = (sorted(report["canceled"]), report["cancel_failed"], report["checkpoint"])
    assert outcome == (sorted(resting), [], True)
    assert await bed.open_at_venue() == []
    [row] = await bed.rows("SELECT instance, open_orders FROM oms_checkpoints")
    assert (row["instance"], row["open_orders"]) == ("oms-blue", "[]")


async def test_the_successor_alerts_and_cancels_what_a_hung_shutdown_left(bed: DeployBed) -> None:
    resting, report = await stop_while_cancels_hang(bed)
    outcome = (report["canceled"], sorted(report["cancel_failed"]), report["checkpoint"])
    assert outcome == ([], sorted(resting), True)
    assert sorted(o["cl_ord_id"] for o in await bed.open_at_venue()) == sorted(resting)

    successor = await bed.oms("oms-blue", "active")  # the same instance, a new boot

    async def alerted() -> list[dict[str, Any]]:
        return bed.alerts("UnknownOpenOrder", "oms-blue")

    unknown = await wait_until(alerted, 10, "UnknownOpenOrder alerts from the successor")
    assert sorted(a["order_id"] for a in unknown) == sorted(resting)
    assert {a["source"] for a in unknown} == {"startup"}
    # the venue still hangs cancels: the successor keeps asking until it answers
    await asyncio.sleep(0.2)
    assert len(await bed.open_at_venue()) == 3
    assert (await bed.venue_api("DELETE", "/faults/cancel_failure"))[0] == 204
    await wait_until(lambda: _none_open(bed), 10, "the leftover orders to be cancelled")
    _, positions = await bed.call(successor, "GET", "/positions")
    assert positions["positions"] == {"BTC-USD": 3}
    assert bed.alerts("CheckpointMismatch") == []


async def test_defect_no_startup_reconcile_leaves_the_leftovers_resting(bed: DeployBed) -> None:
    resting, _ = await stop_while_cancels_hang(bed)
    # the fault stays armed: healing it would let the venue carry out the cancels it held
    successor = await bed.oms("oms-blue", "active", defects=["no-startup-reconcile"])
    status, order = await bed.place(successor, type="market", price=None, qty=1)
    assert status == 201, order
    leftovers = {o["cl_ord_id"] for o in await bed.open_at_venue()} - {order["order_id"]}
    assert sorted(leftovers) == sorted(resting)
    assert bed.alerts("UnknownOpenOrder") == []
    _, open_here = await bed.call(successor, "GET", "/orders?status=open")
    assert not leftovers & {o["order_id"] for o in open_here}
    _, positions = await bed.call(successor, "GET", "/positions")
    assert positions["positions"]["BTC-USD"] in (3, 4)  # the checkpoint's 3, plus the new order once it fills


async def _positions_are(bed: DeployBed, expected: dict[str, int]) -> bool:
    return await bed.ledger_positions() == expected


async def _none_open(bed: DeployBed) -> bool:
    return await bed.open_at_venue() == []
