"""Trades reported in pieces at several markets (``VenueConfig.markets`` / ``max_fill_lots``),
observed by a simplefix client over loopback and in the ledger of truth."""

from __future__ import annotations

import json
from itertools import accumulate, groupby
from pathlib import Path
from typing import Any

import pytest
import simplefix

from mock_exchange.venue import Venue
from tests.integration.venue_helpers import (
    FAR_ABOVE,
    FixTestClient,
    answers_in_order,
    field,
    get_json,
    hand_stepped_config,
    logged_on,
)

pytestmark = pytest.mark.integration

MARKETS = ("XNAS", "ARCX")
MAX_STEPS = 200
# The fields of a trade report as the venue has always sent them (no LastMkt).
PLAIN_TRADE_TAGS = [37, 11, 17, 150, 39, 55, 54, 38, 40, 59, 14, 151, 6, 60, 31, 32]


async def _trades_until_filled(venue: Venue, client: FixTestClient) -> list[simplefix.FixMessage]:
    """Step the venue until the client hears its order filled; every trade report, in order."""
    trades: list[simplefix.FixMessage] = []
    for step in range(MAX_STEPS):
        venue.step()
        trades += [m for m in await answers_in_order(client, f"step-{step}") if field(m, 150) == "F"]
        if trades and field(trades[-1], 39) == "2":
            return trades
    raise AssertionError(f"the order was not filled in {MAX_STEPS} steps")


async def _market_order(client: FixTestClient, cl_ord_id: str, qty: int, side: int = 1) -> None:
    client.new_order(cl_ord_id, qty=qty, side=side)
    assert field(await client.expect("8"), 150) == "0"


def _ledger_lines(venue: Venue, kind: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in venue.config.ledger_path.read_text().splitlines()]
    return [line for line in lines if line["kind"] == kind]


def _trades(fills: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The ledger's fills grouped into the trades they report (the pieces of one share its t_ns)."""
    return [list(pieces) for _, pieces in groupby(fills, key=lambda fill: (fill["order_id"], fill["t_ns"]))]


async def test_a_large_trade_comes_in_pieces_each_from_the_next_market(tmp_path: Path) -> None:
    config = hand_stepped_config(tmp_path, markets=MARKETS, max_fill_lots=2)
    async with Venue(config) as venue, logged_on(venue.fix_port) as client:
        await _market_order(client, "oms-a-1-1", qty=25)
        reports = await _trades_until_filled(venue, client)
        _, fills = await get_json(venue.admin_port, "/ledger/fills")

    last_qty = [int(field(report, 32) or 0) for report in reports]
    cum_qty = [int(field(report, 14) or 0) for report in reports]
    assert max(last_qty) == 2
    assert cum_qty == list(accumulate(last_qty))
    assert cum_qty[-1] == 25
    assert [int(field(report, 151) or 0) for report in reports] == [25 - cum for cum in cum_qty]
    assert [field(report, 39) for report in reports] == ["1"] * (len(reports) - 1) + ["2"]
    assert [field(report, 30) for report in reports] == [MARKETS[n % 2] for n in range(len(reports))]
    notional = accumulate(qty * float(field(r, 31) or 0) for qty, r in zip(last_qty, reports, strict=True))
    assert [float(field(report, 6) or 0) for report in reports] == pytest.approx(
        [value / cum for value, cum in zip(notional, cum_qty, strict=True)]
    )
    assert [(f["exec_id"], f["qty"], f["market"]) for f in fills] == [
        (field(report, 17), qty, field(report, 30)) for report, qty in zip(reports, last_qty, strict=True)
    ]
    trades = _trades(_ledger_lines(venue, "fill"))
    assert any(len(pieces) > 1 for pieces in trades), "no trade was above max_fill_lots"
    assert all(piece["qty"] == 2 for pieces in trades for piece in pieces[:-1])
    assert all(len({piece["price"] for piece in pieces}) == 1 for pieces in trades)


async def test_each_order_goes_through_the_markets_from_the_first(tmp_path: Path) -> None:
    config = hand_stepped_config(tmp_path, markets=(*MARKETS, "BATS"), max_fill_lots=1)
    async with Venue(config) as venue, logged_on(venue.fix_port) as client:
        await _market_order(client, "oms-a-1-1", qty=4)
        first = await _trades_until_filled(venue, client)
        await _market_order(client, "oms-a-1-2", qty=2, side=2)
        second = await _trades_until_filled(venue, client)

    assert [field(report, 30) for report in first] == ["XNAS", "ARCX", "BATS", "XNAS"]
    assert [field(report, 30) for report in second] == ["XNAS", "ARCX"]


async def test_markets_without_a_lot_limit_name_a_market_per_whole_trade(tmp_path: Path) -> None:
    config = hand_stepped_config(tmp_path, markets=MARKETS)
    async with Venue(config) as venue, logged_on(venue.fix_port) as client:
        await _market_order(client, "oms-a-1-1", qty=40)
        reports = await _trades_until_filled(venue, client)

    fills = _ledger_lines(venue, "fill")
    assert all(len(pieces) == 1 for pieces in _trades(fills))
    assert [field(report, 30) for report in reports] == [MARKETS[n % 2] for n in range(len(reports))]
    assert [fill["market"] for fill in fills] == [field(report, 30) for report in reports]


async def test_a_lot_limit_alone_splits_trades_without_naming_markets(tmp_path: Path) -> None:
    config = hand_stepped_config(tmp_path, max_fill_lots=3)
    async with Venue(config) as venue, logged_on(venue.fix_port) as client:
        await _market_order(client, "oms-a-1-1", qty=40)
        reports = await _trades_until_filled(venue, client)

    fills = _ledger_lines(venue, "fill")
    assert any(len(pieces) > 1 for pieces in _trades(fills))
    assert max(int(field(report, 32) or 0) for report in reports) <= 3
    assert all(report.get(30) is None for report in reports)
    assert all("market" not in fill for fill in fills)


async def test_default_settings_report_and_record_trades_as_before(tmp_path: Path) -> None:
    async with Venue(hand_stepped_config(tmp_path)) as venue, logged_on(venue.fix_port) as client:
        client.new_order("oms-a-1-1", qty=40, price=FAR_ABOVE)
        await client.expect("8")
        reports = await _trades_until_filled(venue, client)
        _, fills = await get_json(venue.admin_port, "/ledger/fills")

    body_tags = [*PLAIN_TRADE_TAGS[:14], 44, *PLAIN_TRADE_TAGS[14:]]
    for report in reports:
        tags = [int(tag) for tag, _ in report.pairs if int(tag) not in (8, 9, 35, 49, 56, 34, 52, 57, 10)]
        assert tags == body_tags
    assert len(reports) == len(fills)
    lines = _ledger_lines(venue, "fill")
    assert {tuple(line) for line in lines} == {("kind", "t_ns", "order_id", "exec_id", "qty", "price")}
    assert all("market" not in fill for fill in fills)


async def test_a_restarted_venue_goes_on_with_the_order_s_next_market(tmp_path: Path) -> None:
    config = hand_stepped_config(tmp_path, markets=MARKETS, max_fill_lots=3)
    async with Venue(config) as venue, logged_on(venue.fix_port) as client:
        client.new_order("oms-a-1-1", qty=500, price=FAR_ABOVE, tif=1)
        await client.expect("8")
        venue.step()
        before = [m for m in await answers_in_order(client, "before") if field(m, 150) == "F"]
    async with Venue(config) as venue, logged_on(venue.fix_port) as client:
        venue.step()
        after = [m for m in await answers_in_order(client, "after") if field(m, 150) == "F"]

    assert before
    assert after
    markets = [field(report, 30) for report in before + after]
    assert markets == [MARKETS[n % 2] for n in range(len(markets))]
    assert int(field(after[0], 14) or 0) == int(field(before[-1], 14) or 0) + int(field(after[0], 32) or 0)
