"""TradeCaptureReportRequest (AD) over a real FIX session with the venue, checked with simplefix: a
session of the firm gets the executions another session's orders had, bad requests get a reject."""

from __future__ import annotations

import pytest

from mock_exchange.venue import Venue
from tests.integration.venue_helpers import (
    FAR_ABOVE,
    FixTestClient,
    field,
    logged_on,
    utc_timestamp,
)

pytestmark = pytest.mark.integration


def since(stamp: str, request_id: str = "tc-1") -> list[tuple[int, str]]:
    return [(568, request_id), (569, "0"), (263, "0"), (580, "1"), (75, stamp[:8]), (60, stamp)]


async def test_a_session_gets_the_executions_of_the_firms_other_session(venue: Venue) -> None:
    start = utc_timestamp(-1)
    async with logged_on(venue.fix_port, "OMS-B") as other:
        other.new_order("oms-b-1-1", qty=4, price=FAR_ABOVE, sub_id="oms-b")
        await other.expect("8")
        while venue.ledger.orders["O1"].is_open:
            venue.step()
    fills = venue.ledger.fills
    assert fills, "the order traded"
    async with logged_on(venue.fix_port, "OMS-A") as client:
        client.send("AD", since(start))
        ack = await client.expect("AQ")
        assert [field(ack, tag) for tag in (568, 748, 749, 750)] == ["tc-1", str(len(fills)), "0", "0"]
        reports = [await client.expect("AE") for _ in fills]
        assert [field(r, 17) for r in reports] == [fill.exec_id for fill in fills]
        assert [field(r, 912) for r in reports] == ["N"] * (len(fills) - 1) + ["Y"]
        assert {(field(r, 11), field(r, 37), field(r, 54), field(r, 448), field(r, 57)) for r in reports} == {
            ("oms-b-1-1", "O1", "1", "oms-b", "oms-b")}
        assert sum(int(field(r, 32) or 0) for r in reports) == 4

        client.send("AD", since(utc_timestamp(60), "tc-2"))  # nothing after a minute from now
        empty = await client.expect("AQ")
        assert [field(empty, tag) for tag in (568, 748, 749, 750)] == ["tc-2", "0", "0", "0"]


async def test_bad_requests_get_a_reject_and_the_session_goes_on(venue: Venue) -> None:
    async with logged_on(venue.fix_port, "OMS-A") as client:
        client.send("AD", [(568, "tc-1"), (569, "1")])
        refused = await client.expect("AQ")
        assert [field(refused, tag) for tag in (568, 749, 750)] == ["tc-1", "8", "2"]
        client.send("AD", [(568, "tc-2"), (569, "0"), (263, "1")])
        refused = await client.expect("AQ")
        assert [field(refused, tag) for tag in (568, 749, 750)] == ["tc-2", "99", "2"]
        assert "snapshot" in (field(refused, 58) or "")
        client.send("AD", [(568, "tc-3"), (569, "0"), (580, "2"), (75, "20260304"), (60, utc_timestamp())])
        reject = await client.expect("3")  # NoDates says two, the group holds one
        assert [field(reject, tag) for tag in (371, 372, 373)] == ["580", "AD", "16"]
        client.send("AD", [(569, "0")])
        reject = await client.expect("3")
        assert [field(reject, tag) for tag in (371, 373)] == ["568", "1"]
        await _still_on(client)


async def _still_on(client: FixTestClient) -> None:
    client.send("1", [(112, "still-on")])
    assert field(await client.expect("0", skip=()), 112) == "still-on"
