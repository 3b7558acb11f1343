"""The strict FIX 4.4 session rules (after the FIX session-layer test cases), over loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from mock_exchange.config import SessionConfig, VenueConfig
from mock_exchange.venue import Venue
from tests.integration.venue_helpers import Connect, FixTestClient, field, utc_timestamp, venue_config

pytestmark = pytest.mark.integration


@pytest.fixture
def venue_settings(tmp_path: Path) -> VenueConfig:
    sessions = (
        SessionConfig(sender_comp_id="OMS-A"),
        SessionConfig(sender_comp_id="TEST", reset_on_logon=True),
    )
    return venue_config(tmp_path, sessions=sessions, logout_timeout_s=30)


def _fields(message: object, *tags: int) -> list[str | None]:
    return [field(message, tag) for tag in tags]


@pytest.mark.parametrize("offset_s", [-121.0, 121.0])
async def test_sending_time_off_by_more_than_120s_is_rejected_then_logged_out(
    client: FixTestClient, offset_s: float
) -> None:
    client.send("0", sending_time=utc_timestamp(offset_s))
    reject, logout = await client.confirm_logout()
    assert _fields(reject, 35, 45, 372, 373, 58) == ["3", "2", "0", "10", "SendingTime accuracy problem"]
    assert field(logout, 35) == "5"


async def test_sending_time_within_tolerance_is_accepted(client: FixTestClient) -> None:
    client.send("1", [(112, "close-enough")], sending_time=utc_timestamp(-100))
    assert field(await client.expect("0", skip=()), 112) == "close-enough"


async def test_logon_with_a_bad_sending_time_is_refused(connect: Connect) -> None:
    client = await connect()
    client.send("A", [(98, 0), (108, 30), (141, "Y")], sending_time="20010101-00:00:00")
    [logout] = await client.expect_closed()
    assert field(logout, 35) == "5"
    assert "SendingTime accuracy problem" in (field(logout, 58) or "")


@pytest.mark.parametrize(("sender", "target"), [("WT", "MOCKEX"), ("OMS-A", "XEKCOM"), ("WT", "XEKCOM")])
async def test_comp_id_mismatch_is_rejected_then_logged_out(
    client: FixTestClient, sender: str, target: str
) -> None:
    client.sender_comp_id, client.target_comp_id = sender, target
    client.new_order("oms-a-1-1", price=1.0)
    reject = await client.expect("3", skip=())
    client.sender_comp_id, client.target_comp_id = "OMS-A", "MOCKEX"  # the Logout reply is in order
    [logout] = await client.confirm_logout()
    assert _fields(reject, 35, 45, 372, 373, 58) == ["3", "2", "D", "9", "CompID problem"]
    assert _fields(logout, 35, 58) == ["5", "CompID problem"]


async def test_invalid_msg_type_is_rejected_and_the_session_goes_on(client: FixTestClient) -> None:
    client.send("ZZ")
    reject = await client.expect("3", skip=())
    assert _fields(reject, 45, 371, 372, 373, 58) == ["2", "35", "ZZ", "11", "Invalid MsgType"]
    client.send("1", [(112, "still-on")])
    assert field(await client.expect("0", skip=()), 112) == "still-on"


async def test_unsupported_application_message_gets_a_business_reject(client: FixTestClient) -> None:
    client.send("R", [(131, "quote-1"), (146, 0)])
    reject = await client.expect("j", skip=())
    assert _fields(reject, 45, 372, 380, 58) == ["2", "R", "3", "Unsupported Message Type"]


async def test_messages_behind_a_gap_are_processed_in_order_once_it_is_filled(client: FixTestClient) -> None:
    client.send("1", [(112, "four")], seq=4)
    resend = await client.expect("2", skip=())
    assert _fields(resend, 7, 16) == ["2", "0"]
    client.send("1", [(112, "five")], seq=5)
    client.send("1", [(112, "two")], seq=2, poss_dup=False)
    client.send("1", [(112, "three")], seq=3)
    answers = [field(await client.expect("0", skip=()), 112) for _ in range(4)]
    assert answers == ["two", "three", "four", "five"]
    client.send("1", [(112, "six")], seq=6)
    assert field(await client.expect("0", skip=()), 112) == "six"


async def test_a_resend_request_behind_a_gap_is_answered_once(client: FixTestClient) -> None:
    client.send("1", [(112, "ping")])
    await client.expect("0", skip=())
    client.send("2", [(7, 1), (16, 0)], seq=5)
    first = [await client.expect_any() for _ in range(2)]
    assert sorted(field(message, 35) or "" for message in first) == ["2", "4"]
    client.send("4", [(122, utc_timestamp(-1)), (123, "Y"), (36, 5)], seq=3, poss_dup=True)
    client.send("1", [(112, "after")], seq=6)
    after = await client.expect_any()
    assert _fields(after, 35, 112) == ["0", "after"], "the queued ResendRequest was answered again"


async def test_sequence_reset_reset_moves_the_expected_number_up(client: FixTestClient) -> None:
    client.send("4", [(36, 25)], seq=0)
    client.send("1", [(112, "at-25")], seq=25)
    assert field(await client.expect("0", skip=()), 112) == "at-25"


async def test_sequence_reset_reset_backwards_is_rejected_not_fatal(client: FixTestClient) -> None:
    client.send("0")
    client.send("4", [(36, 1)], seq=0)
    reject = await client.expect("3", skip=())
    assert _fields(reject, 371, 372, 373) == ["36", "4", "5"]
    client.send("1", [(112, "three")], seq=3)
    assert field(await client.expect("0", skip=()), 112) == "three"


async def test_gap_fill_with_possdup_below_expected_is_ignored(client: FixTestClient) -> None:
    client.send("4", [(122, utc_timestamp(-1)), (123, "Y"), (36, 20)], seq=1, poss_dup=True)
    client.send("1", [(112, "two")], seq=2)
    assert field(await client.expect("0", skip=()), 112) == "two"


async def test_possdup_without_orig_sending_time_is_rejected(client: FixTestClient) -> None:
    client.send("0")
    client.send("0", seq=2, poss_dup=True)
    reject = await client.expect("3", skip=())
    assert _fields(reject, 45, 371, 373) == ["2", "122", "1"]
    client.send("1", [(112, "three")], seq=3)
    assert field(await client.expect("0", skip=()), 112) == "three"


async def test_possdup_with_orig_sending_time_after_sending_time_is_logged_out(client: FixTestClient) -> None:
    client.send("0")
    client.send("0", [(122, utc_timestamp(10))], seq=2, poss_dup=True)
    reject, logout = await client.confirm_logout()
    assert _fields(reject, 35, 373) == ["3", "10"]
    assert field(logout, 35) == "5"


async def test_logon_with_a_high_seqnum_is_answered_then_resend_requested(connect: Connect) -> None:
    client = await connect()
    client.send("A", [(98, 0), (108, 30), (141, "Y")], seq=5)
    logon = await client.expect("A", skip=())
    resend = await client.expect("2", skip=())
    assert [field(logon, 34), *_fields(resend, 34, 7, 16)] == ["1", "2", "1", "0"]
    client.send("4", [(122, utc_timestamp(-1)), (123, "Y"), (36, 6)], seq=1, poss_dup=True)
    client.send("1", [(112, "six")], seq=6)
    assert field(await client.expect("0", skip=()), 112) == "six"


async def test_reset_on_logon_session_restarts_both_seqnums_without_the_flag(
    venue: Venue, connect: Connect
) -> None:
    first = await connect("TEST")
    first.send("A", [(98, 0), (108, 30)])
    await first.expect("A", skip=())
    first.send("0")
    first.send("5")
    await first.expect("5", skip=())
    await first.expect_closed()
    second = await connect("TEST")
    second.send("A", [(98, 0), (108, 30)], seq=1)
    logon = await second.expect("A", skip=())
    assert _fields(logon, 34, 141) == ["1", "Y"]


async def test_resend_gap_fill_carries_orig_sending_time(client: FixTestClient) -> None:
    client.send("2", [(7, 1), (16, 0)])
    gap_fill = await client.expect("4", skip=())
    assert _fields(gap_fill, 34, 43, 123, 36) == ["1", "Y", "Y", "2"]
    assert field(gap_fill, 122) is not None
