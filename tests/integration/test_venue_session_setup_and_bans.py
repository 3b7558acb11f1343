"""The venue end to end: a session set up once trading began waits; a published limit bans, in the ledger."""

from __future__ import annotations

import time
from pathlib import Path

from mock_exchange.venue import Venue
from tests.integration.venue_helpers import FAR_BELOW, field, get_json, hand_stepped_config, logged_on
from tests.integration.ws_helpers import WsTestClient, ws_venue_config

SETUP_S = 0.6


async def test_start_of_day_logons_are_at_once_and_one_after_the_first_order_waits(tmp_path: Path) -> None:
    async with Venue(hand_stepped_config(tmp_path, session_setup_s=SETUP_S)) as venue:
        started = time.monotonic()
        async with logged_on(venue.fix_port, "OMS-A") as client:
            assert time.monotonic() - started < SETUP_S, "a start-of-day session is set up at once"
            client.new_order("oms-a-1-1", price=FAR_BELOW)
            assert field(await client.expect("8"), 150) == "0"
        started = time.monotonic()
        async with logged_on(venue.fix_port, "OMS-B"):
            assert time.monotonic() - started >= SETUP_S, "a session set up mid-day waits the setup time"
        status, ledger = await get_json(venue.admin_port, "/ledger")
        assert status == 200
        assert {session["sender_comp_id"]: session["logons"] for session in ledger["sessions"]} == {
            "OMS-A": 1, "OMS-B": 1}


async def test_the_published_limit_bans_the_session_and_the_ledger_lists_the_ban(tmp_path: Path) -> None:
    config = hand_stepped_config(tmp_path, order_rate_limit={"max_orders": 2, "window_s": 60, "ban_s": 60})
    async with Venue(config) as venue, logged_on(venue.fix_port, "OMS-A") as client:
        for number in range(1, 5):
            client.new_order(f"oms-a-1-{number}", price=FAR_BELOW)
        reports = [await client.expect("8") for _ in range(4)]
        assert [field(report, 150) for report in reports] == ["0", "0", "8", "8"]
        assert (field(reports[3], 58) or "").startswith("Rate limit exceeded: banned for another")
        status, ledger = await get_json(venue.admin_port, "/ledger")
        assert status == 200
        [ban] = ledger["bans"]
        assert (ban["sender_comp_id"], ban["ban_s"]) == ("OMS-A", 60)
        assert ban["until_ns"] - ban["t_ns"] == 60_000_000_000
        refused = [order for order in ledger["orders"] if order["status"] == "rejected"]
        assert [order["cl_ord_id"] for order in refused] == ["oms-a-1-3", "oms-a-1-4"]


async def test_a_websocket_session_set_up_after_the_first_order_waits_too(tmp_path: Path) -> None:
    async with Venue(ws_venue_config(tmp_path, session_setup_s=SETUP_S)) as venue:
        assert venue.ws_port is not None
        started = time.monotonic()
        async with WsTestClient.connect(venue.ws_port) as early:
            assert (await early.auth("desk-a", "key-a"))["type"] == "result"
            assert time.monotonic() - started < SETUP_S
            async with logged_on(venue.fix_port, "OMS-A") as client:
                client.new_order("oms-a-1-1", price=FAR_BELOW)
                assert field(await client.expect("8"), 150) == "0"
            started = time.monotonic()
            async with WsTestClient.connect(venue.ws_port) as late:
                assert (await late.auth("desk-b", "key-b"))["type"] == "result"
                assert time.monotonic() - started >= SETUP_S
