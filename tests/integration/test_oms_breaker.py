"""The circuit breaker and kill switch of a real OMS process against the real venue (docs/deploy.md §2.6):
a drawdown trips it, entries halt at once, open orders are cancelled and the book is flattened
within the issue's RTOs (halt <= 1 s, flat <= 5 s); defect ``breaker-disabled`` trades on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_deploy_support import DeployBed, deploy_bed, pg_cache
from tests.integration.test_oms_support import Service, wait_until

pytestmark = pytest.mark.integration

BREAKER = {"max_drawdown": 50.0}
NS = 1_000_000_000


@pytest.fixture
async def bed(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DeployBed]:
    async with deploy_bed(tmp_path, pg_cache(tmp_path_factory)) as running:
        yield running


async def build_long_then_drop(bed: DeployBed, svc: Service) -> str:
    """10 BTC bought near 100 and an ETH bid resting; the price drops to 90 and 1 more lot trades
    there: marked at 90 the book has lost ~100 from its peak. Returns the resting order's id."""
    assert (await bed.place(svc, type="market", price=None, qty=10))[0] == 201
    await wait_until(lambda: _ledger_is(bed, {"BTC-USD": 10}), 5, "the long to fill")
    status, resting = await bed.place(svc, symbol="ETH-USD")
    assert status == 201, resting
    bed.venue.engine.prices["BTC-USD"].mid = 90.0  # the venue's price falls 10 %
    assert (await bed.place(svc, type="market", price=None, qty=1))[0] == 201
    return str(resting["order_id"])


async def test_a_drawdown_halts_entries_cancels_and_flattens_within_the_rtos(bed: DeployBed) -> None:
    blue = await bed.oms("oms-blue", "active", breaker=BREAKER)
    resting = await build_long_then_drop(bed, blue)

    flat = await wait_until(lambda: bed.alerts("Flat", "oms-blue"), 10, "the Flat alert")
    assert flat == [{"positions": {}}]
    [tripped] = bed.alerts("BreakerTripped", "oms-blue")
    assert tripped["reason"] == "drawdown-limit"
    assert tripped["peak"] - tripped["pnl"] >= BREAKER["max_drawdown"]
    assert await bed.ledger_positions() == {}
    assert await bed.open_at_venue() == []
    status, halted = await bed.place(blue, type="market", price=None, qty=1)
    assert (status, halted["error"], halted["reason"]) == (503, "halted", "drawdown-limit")

    _, ledger = await bed.venue_api("GET", "/ledger")
    breach = max(f["t_ns"] for f in ledger["fills"] if f["price"] < 95)  # the fill that marked the book at 90
    trip_alert = next(m for m in bed.messages("alerts", "oms-blue") if m["alert"] == "BreakerTripped")
    assert trip_alert["t_ns"] - breach <= 1 * NS
    after = [o for o in ledger["orders"] if o["received_ns"] > trip_alert["t_ns"]]
    assert {(o["symbol"], o["side"]) for o in after} == {("BTC-USD", "sell")}  # only the flattening
    assert max(f["t_ns"] for f in ledger["fills"]) - breach <= 5 * NS
    canceled = next(o for o in ledger["orders"] if o["cl_ord_id"] == resting)
    assert canceled["status"] == "canceled"
    pnl = [m["pnl"] for m in bed.messages("pnl", "oms-blue")]
    assert min(pnl, default=0.0) < -BREAKER["max_drawdown"]


async def test_defect_breaker_disabled_keeps_trading_through_the_drawdown(bed: DeployBed) -> None:
    blue = await bed.oms("oms-blue", "active", breaker={**BREAKER, "defects": ["breaker-disabled"]})
    await build_long_then_drop(bed, blue)
    await wait_until(lambda: _ledger_is(bed, {"BTC-USD": 11}), 5, "the last lot to fill")
    status, order = await bed.place(blue, type="market", price=None, qty=1)
    assert status == 201, order
    assert bed.alerts("BreakerTripped") == []
    assert len(await bed.open_at_venue()) >= 1  # the ETH bid still rests


async def test_the_kill_switch_needs_the_token_and_trips_once(bed: DeployBed) -> None:
    blue = await bed.oms("oms-blue", "active")
    assert (await bed.place(blue, type="market", price=None, qty=2))[0] == 201
    status, _ = await bed.call(blue, "POST", "/admin/kill-switch")
    assert status == 401
    status, body = await bed.admin(blue, "/admin/kill-switch", **{"X-Operator": "alice"})
    assert (status, body["trip"]["reason"], body["trip"]["operator"]) == (200, "kill-switch", "alice")
    status, again = await bed.admin(blue, "/admin/kill-switch")
    assert (status, again["error"]) == (409, "already tripped")
    await wait_until(lambda: bed.alerts("Flat", "oms-blue"), 10, "the Flat alert")
    await wait_until(lambda: _ledger_is(bed, {}), 5, "the venue to see the book flat")


async def _ledger_is(bed: DeployBed, expected: dict[str, Any]) -> bool:
    return await bed.ledger_positions() == expected
