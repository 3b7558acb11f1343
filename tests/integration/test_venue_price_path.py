"""The ``price_path`` exchange fault through the admin API: the seeded price walks a line,
marketable orders fill on it, a heal lets the walk resume from where the price got to."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from mock_exchange.config import SymbolConfig, VenueConfig
from mock_exchange.venue import Venue
from tests.integration.venue_helpers import (
    FixTestClient,
    answers_in_order,
    arm_fault,
    call_json,
    field,
    hand_stepped_config,
    heal_fault,
    wait_until,
)

pytestmark = pytest.mark.integration

BTC = "BTC-USD"
START = 60_000.0
HALF_SPREAD = 0.01  # two ticks of 0.01 around the mid
FLAT = (  # no random walk: every price the test sees is the path's
    SymbolConfig(symbol=BTC, start_price=START, volatility_bps=0.0),
    SymbolConfig(symbol="ETH-USD", start_price=3_000.0, volatility_bps=0.0),
)


@pytest.fixture
def venue_settings(tmp_path: Path) -> VenueConfig:
    return hand_stepped_config(tmp_path, symbols=FLAT)


async def _fill_price(
    venue: Venue, client: FixTestClient, cl_ord_id: str, *, side: int, qty: int = 1
) -> float:
    """Step once with a market order resting: the price of its trade (one lot fills whole)."""
    client.new_order(cl_ord_id, qty=qty, side=side)
    assert field(await client.expect("8"), 150) == "0"
    venue.step()
    trades = [m for m in await answers_in_order(client, cl_ord_id) if field(m, 150) == "F"]
    assert [field(trade, 39) for trade in trades] == ["2"]
    return float(field(trades[0], 31) or 0)


def _stepped_ask(venue: Venue) -> float:
    venue.step()
    return venue.engine.prices[BTC].quote.ask


def _fault_lines(venue: Venue) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in venue.config.ledger_path.read_text().splitlines()]
    return [line for line in lines if line["kind"] == "fault"]


async def test_a_price_path_fills_orders_at_the_moved_price_and_a_long_loses(
    venue: Venue, client: FixTestClient
) -> None:
    bought = await _fill_price(venue, client, "oms-a-1-1", side=1, qty=1)
    params = {"symbol": BTC, "move_pct": -4, "over_s": 0}
    stored = await arm_fault(venue.admin_port, "price_path", **params)
    sold = await _fill_price(venue, client, "oms-a-1-2", side=2, qty=1)

    assert stored == {"kind": "price_path", "session": None, "symbol": BTC, "move_pct": -4.0, "over_s": 0.0}
    assert await call_json(venue.admin_port, "GET", "/faults") == (200, {"faults": [stored]})
    assert (bought, sold) == (START + HALF_SPREAD, START * 0.96 - HALF_SPREAD)
    assert sold - bought == pytest.approx(-2_400.02)
    assert [(line["fault"], line["action"], line["params"]) for line in _fault_lines(venue)] == [
        ("price_path", "arm", stored)
    ]


async def test_the_price_moves_along_the_line_while_the_path_runs(
    venue: Venue, client: FixTestClient
) -> None:
    over_s = 4.0
    before_arm = time.monotonic()
    await arm_fault(venue.admin_port, "price_path", symbol=BTC, move_pct=-4, over_s=over_s)
    after_arm = time.monotonic()
    await wait_until(lambda: time.monotonic() >= after_arm + over_s / 4, timeout_s=over_s)
    before_step = time.monotonic()
    price = await _fill_price(venue, client, "oms-a-1-1", side=1)

    def mid_after(elapsed_s: float) -> float:
        return START * (1 - 0.04 * min(elapsed_s / over_s, 1.0))

    latest, earliest = mid_after(time.monotonic() - before_arm), mid_after(before_step - after_arm)
    assert latest + HALF_SPREAD - 0.01 <= price <= earliest + HALF_SPREAD + 0.01
    assert START * 0.96 + HALF_SPREAD < price < START + HALF_SPREAD, "not on the way down"


async def test_a_heal_leaves_the_price_where_the_path_got_to(venue: Venue, client: FixTestClient) -> None:
    await arm_fault(venue.admin_port, "price_path", symbol=BTC, move_pct=-4, over_s=60)
    await wait_until(lambda: _stepped_ask(venue) < START + HALF_SPREAD)
    await heal_fault(venue.admin_port, "price_path")
    healed_at = time.monotonic()
    first = await _fill_price(venue, client, "oms-a-1-1", side=1)
    await wait_until(lambda: time.monotonic() >= healed_at + 0.05)  # the path would move 2.0 by then
    second = await _fill_price(venue, client, "oms-a-1-2", side=1)

    assert START * 0.96 < first < START
    assert second == first
    assert [line["action"] for line in _fault_lines(venue)] == ["arm", "heal"]
    assert await call_json(venue.admin_port, "GET", "/faults") == (200, {"faults": []})


async def test_putting_a_path_again_starts_it_where_the_price_is(venue: Venue, client: FixTestClient) -> None:
    await arm_fault(venue.admin_port, "price_path", symbol=BTC, move_pct=-4, over_s=0)
    await arm_fault(venue.admin_port, "price_path", symbol="ETH-USD", move_pct=10, over_s=0)
    btc_after_switch = await _fill_price(venue, client, "oms-a-1-1", side=2)
    await arm_fault(venue.admin_port, "price_path", symbol=BTC, move_pct=10, over_s=0)
    btc_again = await _fill_price(venue, client, "oms-a-1-2", side=2)
    assert await call_json(venue.admin_port, "DELETE", "/faults") == (204, None)
    btc_healed = await _fill_price(venue, client, "oms-a-1-3", side=2)

    assert btc_after_switch == START * 0.96 - HALF_SPREAD, "a path on another symbol keeps this price"
    assert btc_again == pytest.approx(START * 0.96 * 1.1 - HALF_SPREAD)
    assert btc_healed == btc_again
    assert venue.engine.prices["ETH-USD"].mid == pytest.approx(3_300.0)


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"move_pct": -4, "over_s": 3}, "symbol: Field required"),
        ({"symbol": "DOGE-USD", "move_pct": -4, "over_s": 3}, "symbol: unknown symbol 'DOGE-USD'"),
        ({"symbol": BTC, "move_pct": -100, "over_s": 3}, "move_pct: Input should be greater than -100"),
        ({"symbol": BTC, "move_pct": "down", "over_s": 3}, "move_pct: Input should be a valid number"),
        ({"symbol": BTC, "move_pct": -4, "over_s": -1}, "over_s: Input should be greater than or equal to 0"),
        ({"symbol": BTC, "move_pct": -4, "over_s": 3, "session": "OMS-A"}, "session: Value error"),
        ({"symbol": BTC, "move_pct": -4, "over_s": 3, "speed": 2}, "speed: Extra inputs are not permitted"),
        ([BTC, -4, 3], "the body must be a JSON object"),
    ],
)
async def test_bad_parameters_are_refused_naming_the_field(venue: Venue, body: Any, names: str) -> None:
    status, answer = await call_json(venue.admin_port, "PUT", "/faults/price_path", body)
    assert status == 400
    assert answer["error"].startswith("price_path: ")
    assert names in answer["error"]
    assert await call_json(venue.admin_port, "GET", "/faults") == (200, {"faults": []})
    assert _fault_lines(venue) == []
    assert _stepped_ask(venue) == START + HALF_SPREAD
