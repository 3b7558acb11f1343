"""FIX session layer of the venue over real loopback sockets, driven by a simplefix client."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mock_exchange.config import VenueConfig
from mock_exchange.venue import Venue
from tests.integration.venue_helpers import (
    Connect,
    FixTestClient,
    field,
    utc_timestamp,
    venue_config,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def venue_settings(tmp_path: Path) -> VenueConfig:
    return venue_config(tmp_path)


async def test_logon_is_answered_with_reset_seqnums(venue: Venue, connect: Connect) -> None:
    client = await connect()
    reply = await client.logon(heartbeat_s=30)
    assert [field(reply, tag) for tag in (49, 56, 34, 98, 108, 141)] == [
        "MOCKEX",
        "OMS-A",
        "1",
        "0",
        "30",
        "Y",
    ]
    record = venue.ledger.sessions["OMS-A"]
    assert (record.logons, record.logged_on) == (1, True)


@pytest.mark.parametrize(
    ("sender", "target", "text"),
    [("NOBODY", "MOCKEX", "unknown SenderCompID"), ("OMS-A", "OTHER", "TargetCompID must be MOCKEX")],
)
async def test_logon_of_an_unknown_identity_is_disconnected_unanswered(
    venue: Venue, connect: Connect, sender: str, target: str, text: str
) -> None:
    client = await connect(sender, target)
    client.send("A", [(98, 0), (108, 30), (141, "Y")])
    assert await client.expect_closed() == []
    assert "OMS-A" not in venue.ledger.sessions
    assert text in venue.config.ledger_path.read_text()


async def test_accept_any_session_takes_unknown_sender(tmp_path: Path) -> None:
    async with Venue(venue_config(tmp_path, accept_any_session=True)) as venue:
        client = await FixTestClient.connect(venue.fix_port, "ANYONE")
        reply = await client.logon()
        assert field(reply, 56) == "ANYONE"
        await client.close()


async def test_first_message_must_be_logon(connect: Connect) -> None:
    client = await connect()
    client.send("0")
    assert await client.expect_closed() == []


async def test_second_logon_of_a_logged_on_session_is_refused(venue: Venue, connect: Connect) -> None:
    first = await connect()
    await first.logon()
    second = await connect()
    second.send("A", [(98, 0), (108, 30), (141, "Y")])
    assert await second.expect_closed() == []
    assert "already logged on" in venue.config.ledger_path.read_text()
    first.send("1", [(112, "still-there")])
    heartbeat = await first.expect("0")
    assert field(heartbeat, 112) == "still-there"
    assert venue.ledger.sessions["OMS-A"].logons == 1


async def test_test_request_is_answered_with_heartbeat(connect: Connect) -> None:
    client = await connect()
    await client.logon()
    client.send("1", [(112, "ping-1")])
    heartbeat = await client.expect("0", skip=())
    assert field(heartbeat, 112) == "ping-1"


async def test_silent_counterparty_gets_test_request_then_is_disconnected(
    venue: Venue, connect: Connect
) -> None:
    loop = asyncio.get_running_loop()
    client = await connect()
    await client.logon(heartbeat_s=1)
    logged_on_at = loop.time()
    test_request = await client.expect("1", timeout_s=3)
    test_request_after = loop.time() - logged_on_at
    assert field(test_request, 112)
    await client.expect_closed(timeout_s=3)
    closed_after = loop.time() - logged_on_at
    assert 1.1 <= test_request_after < 2.0
    assert 2.3 <= closed_after < 3.5
    await wait_until(lambda: not venue.ledger.sessions["OMS-A"].connected)
    assert any(message.get(35) == b"0" for message in client.received), "venue sends its own heartbeats"


async def test_answering_heartbeats_keeps_the_session(connect: Connect) -> None:
    client = await connect()
    await client.logon(heartbeat_s=1)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 3.0
    while loop.time() < deadline:
        message = await client.receive(timeout_s=2)
        assert message is not None, "venue disconnected a counterparty that answered"
        if message.get(35) == b"1":
            client.send("0", [(112, message.get(112) or b"")])
        elif message.get(35) == b"0":
            client.send("0")


async def test_sequence_gap_triggers_resend_request_and_gap_fill_recovers(connect: Connect) -> None:
    client = await connect()
    await client.logon()
    client.send("0", seq=5)
    resend = await client.expect("2", skip=())
    assert (field(resend, 7), field(resend, 16)) == ("2", "0")
    client.send("4", [(123, "Y"), (36, 6)], seq=2, poss_dup=True)
    client.send("1", [(112, "after-gap")], seq=6)
    heartbeat = await client.expect("0", skip=())
    assert field(heartbeat, 112) == "after-gap"


async def test_sequence_number_too_low_is_logged_out(venue: Venue, connect: Connect) -> None:
    client = await connect()
    await client.logon()
    client.send("0", seq=2)
    client.send("0", seq=2)
    [logout] = await client.expect_closed()
    assert field(logout, 35) == "5"
    assert field(logout, 58) == "MsgSeqNum too low, expecting 3 but received 2"
    await wait_until(lambda: not venue.ledger.sessions["OMS-A"].connected)


async def test_possdup_below_expected_is_ignored(connect: Connect) -> None:
    client = await connect()
    await client.logon()
    client.send("0", seq=2)
    client.send("0", [(122, utc_timestamp(-1))], seq=2, poss_dup=True)
    client.send("1", [(112, "alive")], seq=3)
    heartbeat = await client.expect("0", skip=())
    assert field(heartbeat, 112) == "alive"


async def test_logon_without_reset_keeps_sequence_numbers(venue: Venue, connect: Connect) -> None:
    first = await connect()
    await first.logon()
    first.send("0")
    first.send("5")
    await first.expect("5")
    await first.expect_closed()
    await wait_until(lambda: not venue.ledger.sessions["OMS-A"].connected)
    second = await connect()
    second.send("A", [(98, 0), (108, 30)], seq=1)
    [logout] = await second.expect_closed()
    assert field(logout, 58) == "MsgSeqNum too low, expecting 4 but received 1"


async def test_resend_request_gets_gap_fill_and_possdup_copies(connect: Connect) -> None:
    client = await connect()
    await client.logon()
    client.new_order("oms-a-1-1", price=1.0)
    original = await client.expect("8")
    client.send("2", [(7, 1), (16, 0)])
    gap_fill = await client.expect("4", skip=())
    assert [field(gap_fill, tag) for tag in (34, 123, 36, 43)] == ["1", "Y", "2", "Y"]
    resent = await client.expect("8", skip=())
    assert [field(resent, tag) for tag in (34, 43, 37, 11, 17)] == [
        "2",
        "Y",
        field(original, 37),
        "oms-a-1-1",
        field(original, 17),
    ]
    assert field(resent, 122) == field(original, 52)


async def test_logout_is_answered_and_recorded(venue: Venue, connect: Connect) -> None:
    client = await connect()
    await client.logon()
    client.send("5")
    await client.expect("5", skip=())
    await client.expect_closed()
    await wait_until(lambda: not venue.ledger.sessions["OMS-A"].connected)
    kinds = [line for line in venue.config.ledger_path.read_text().splitlines() if '"session"' in line]
    assert ['"logon"' in kinds[0], '"logout"' in kinds[1], '"disconnect"' in kinds[2]] == [True, True, True]


async def test_garbage_between_messages_does_not_break_the_session(connect: Connect) -> None:
    client = await connect()
    await client.logon()
    client.send_raw(b"\x00\xffnoise8=FIX.4.4\x019=9999\x0135=0\x01")
    client.send("1", [(112, "through-noise")])
    heartbeat = await client.expect("0", skip=())
    assert field(heartbeat, 112) == "through-noise"
