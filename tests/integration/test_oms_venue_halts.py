"""A real OMS on the real venue (NATS, Postgres, loopback): a venue halt is the venue's state. The OMS
hears of it (SecurityStatus), refuses orders on the symbol without sending them, and trades again once
the venue lifts it; with ``retries-into-halt`` it sends each order into the halt again and again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.test_deploy_support import DeployBed, deploy_bed, pg_cache
from tests.integration.test_oms_support import wait_until
from trading_stack.venue_halts import RETRIES

pytestmark = pytest.mark.integration

@pytest.fixture
async def bed(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DeployBed]:
    async with deploy_bed(tmp_path, pg_cache(tmp_path_factory)) as running:
        yield running


def _received(bed: DeployBed, symbol: str = "BTC-USD") -> int:
    return sum(1 for order in bed.venue.ledger.orders.values() if order.symbol == symbol)


async def test_orders_on_a_halted_symbol_are_refused_unsent_until_the_venue_lifts_it(bed: DeployBed) -> None:
    blue = await bed.oms("oms-blue", "active")
    status, body = await bed.venue_api("PUT", "/faults/halt", {"symbols": ["BTC-USD"]})
    assert status == 200, body

    async def refused_unsent() -> bool:
        status, body = await bed.place(blue)
        return status == 502 and body.get("sent") is False

    await wait_until(refused_unsent, 5, "the OMS refusing BTC-USD without sending")
    before = _received(bed)
    for _ in range(5):
        status, body = await bed.place(blue)
        assert (status, body["text"]) == (502, "Trading halted: BTC-USD")
    assert _received(bed) == before
    assert (await bed.place(blue, symbol="ETH-USD"))[0] == 201  # the other symbol trades on

    status, _ = await bed.venue_api("DELETE", "/faults/halt")
    assert status == 204

    async def accepted() -> bool:
        return (await bed.place(blue))[0] == 201

    await wait_until(accepted, 5, "BTC-USD accepted once the halt is lifted")


async def test_the_defect_sends_every_order_into_the_halt_again(bed: DeployBed) -> None:
    blue = await bed.oms("oms-blue", "active", defects=["retries-into-halt"])
    status, body = await bed.venue_api("PUT", "/faults/halt", {"symbols": ["BTC-USD"]})
    assert status == 200, body
    before = _received(bed)
    status, body = await bed.place(blue)
    assert (status, body["text"]) == (502, "Trading halted: BTC-USD")
    assert _received(bed) == before + 1 + RETRIES
