"""Halts, limit-up/limit-down bands and a replay at a real venue: FIX clients over loopback see each
change as a SecurityStatus and are refused with the venue's words; the ledger keeps every change."""

from __future__ import annotations

import json

import pytest
import simplefix

from mock_exchange.venue import Venue
from tests.integration.venue_helpers import (
    FAR_ABOVE,
    FixTestClient,
    arm_fault,
    call_json,
    field,
    heal_fault,
    logged_on,
)

pytestmark = pytest.mark.integration


def _status(message: simplefix.FixMessage) -> tuple[str | None, ...]:
    return tuple(field(message, tag) for tag in (55, 326, 327))


async def test_a_band_is_announced_and_an_order_beyond_it_refused_with_the_reason(
    venue: Venue, client: FixTestClient
) -> None:
    mid = venue.engine.prices["BTC-USD"].mid
    await arm_fault(venue.admin_port, "price_bands", band_pct=5, pause_s=2, symbols=["BTC-USD"])
    announced = await client.expect("f")
    upper = float(field(announced, 332) or "nan")
    assert _status(announced) == ("BTC-USD", "17", None)
    assert upper >= mid * 1.05
    client.new_order("oms-a-1-1", price=round(upper * 1.01, 2))
    reject = await client.expect("8")
    assert (field(reject, 150), field(reject, 58)) == (
        "8", f"Price outside the limit-up/limit-down band: BTC-USD buy above {upper:g}")
    client.new_order("oms-a-1-2", price=1.0)  # a buy far below trades nowhere: accepted
    assert field(await client.expect("8"), 150) == "0"
    _, ledger = await call_json(venue.admin_port, "GET", "/ledger")
    assert [(s["symbol"], s["state"], s["band"]["upper"]) for s in ledger["trading_status"]] == [
        ("BTC-USD", "trading", upper)]


async def test_a_session_logging_on_mid_halt_is_told_after_its_logon(
    venue: Venue, client: FixTestClient
) -> None:
    await arm_fault(venue.admin_port, "halt", symbols=["ETH-USD"])
    assert _status(await client.expect("f")) == ("ETH-USD", "2", "M")
    async with logged_on(venue.fix_port, "OMS-B") as late:  # logon() read the Logon reply first
        halted = await late.expect("f")
        assert (*_status(halted), field(halted, 58)) == ("ETH-USD", "2", "M", "Trading halted: ETH-USD")
    await heal_fault(venue.admin_port, "halt")
    assert _status(await client.expect("f")) == ("ETH-USD", "17", None)


async def test_a_replay_halts_and_its_heal_lifts_the_halt(venue: Venue, client: FixTestClient) -> None:
    lines = [json.dumps({"t": "2026-03-13T23:59:00Z", "type": "tick", "symbol": "BTC-USD", "px": 100}),
             json.dumps({"t": "2026-03-13T23:59:00Z", "type": "halt", "symbol": "BTC-USD", "reason": "news"})]
    await arm_fault(venue.admin_port, "replay", lines=lines, source="day.jsonl")
    venue.step()
    halted = await client.expect("f")
    assert (*_status(halted), field(halted, 58)) == (
        "BTC-USD", "2", "M", "Trading halted: BTC-USD (replayed halt: news)")
    client.new_order("oms-a-1-1", price=1.0)
    assert field(await client.expect("8"), 58) == "Trading halted: BTC-USD (replayed halt: news)"
    await heal_fault(venue.admin_port, "replay")
    assert _status(await client.expect("f")) == ("BTC-USD", "17", None)
    statuses = [json.loads(line) for line in venue.config.ledger_path.read_text().splitlines()]
    assert [(s["state"], s["cause"]) for s in statuses if s["kind"] == "status"] == [
        ("halted", "replay"), ("trading", "replay")]


async def test_a_bad_replay_line_is_a_400_naming_it(venue: Venue) -> None:
    lines = [json.dumps({"t": "2026-03-13T23:59:00Z", "type": "tick", "symbol": "BTC-USD", "px": 0})]
    status, answer = await call_json(venue.admin_port, "PUT", "/faults/replay",
                                     {"lines": lines, "source": "day.jsonl"})
    assert status == 400
    assert "day.jsonl:1: px: Input should be greater than 0" in answer["error"]


async def test_a_replayed_fills_line_reports_trades_in_pieces_from_its_markets(
    venue: Venue, client: FixTestClient
) -> None:
    lines = [json.dumps({"t": "2026-03-13T23:59:00Z", "type": "tick", "symbol": "BTC-USD", "px": 100}),
             json.dumps({"t": "2026-03-13T23:59:00Z", "type": "fills", "markets": ["XNAS", "ARCX"],
                         "max_lots": 2})]
    await arm_fault(venue.admin_port, "replay", lines=lines)
    venue.step()
    client.new_order("oms-a-1-1", price=FAR_ABOVE, qty=9)
    assert field(await client.expect("8"), 150) == "0"
    while (order := venue.ledger.order_by_cl_ord_id("oms-a-1-1")) is not None and order.is_open:
        venue.step()
    fills = [(fill.qty, fill.market) for fill in venue.ledger.fills]
    assert sum(qty for qty, _ in fills) == 9
    assert all(qty <= 2 for qty, _ in fills)
    alternating = ["XNAS", "ARCX"] * (len(fills) // 2) + ["XNAS"] * (len(fills) % 2)
    assert [market for _, market in fills] == alternating
    reports = [await client.expect("8") for _ in fills]
    assert [field(report, 30) for report in reports] == [market for _, market in fills]
    await heal_fault(venue.admin_port, "replay")
    client.new_order("oms-a-1-2", price=FAR_ABOVE, qty=9)
    await client.expect("8")
    while (order := venue.ledger.order_by_cl_ord_id("oms-a-1-2")) is not None and order.is_open:
        venue.step()
    assert all(fill.market is None for fill in venue.ledger.fills[len(fills):])
