"""FIX 4.4 session conformance over loopback: field-level Rejects (test cases 14a-14i), BeginString
(2i, 1d), the first message (1e), Logout in both directions (13b), and a Logon with
ResetSeqNumFlag in session. Each Reject must use up its MsgSeqNum: the next message in order is
answered, not met with a ResendRequest.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mock_exchange.config import VenueConfig
from mock_exchange.venue import Venue
from tests.integration.venue_helpers import (
    Connect,
    FieldValue,
    FixTestClient,
    client_factory,
    field,
    raw_frame,
    utc_timestamp,
    venue_config,
)

pytestmark = pytest.mark.integration

RawFields = list[tuple[int | str, FieldValue]]


@pytest.fixture
def venue_settings(tmp_path: Path) -> VenueConfig:
    return venue_config(tmp_path, logout_timeout_s=30)


def _header(client: FixTestClient, msg_type: str, seq: int) -> RawFields:
    return [(35, msg_type), (34, seq), (49, client.sender_comp_id), (52, utc_timestamp()), (56, "MOCKEX")]


def _order_body(*, ord_type: FieldValue = 1, qty: FieldValue = "10") -> RawFields:
    return [(11, "id-1"), (21, 1), (55, "BTC-USD"), (54, 1), (38, qty), (40, ord_type), (60, utc_timestamp())]


def _values(message: object, *tags: int) -> list[str | None]:
    return [field(message, tag) for tag in tags]


async def _assert_seq_used_up(client: FixTestClient, seq: int) -> None:
    """The venue answers a TestRequest at ``seq`` at once: the number before it was used up."""
    client.send("1", [(112, f"after-{seq}")], seq=seq)
    heartbeat = await client.expect_any()
    assert _values(heartbeat, 35, 112) == ["0", f"after-{seq}"]


FIELD_PROBLEMS = [
    # (case, MsgType, fields after the header, RefTagID, SessionRejectReason, Text)
    ("14a undefined tag", "0", [(999, "HI")], "999", "0", "Invalid tag number"),
    ("14a tag zero", "0", [(0, "HI")], "0", "0", "Invalid tag number"),
    ("14a negative tag", "0", [(-1, "HI")], "-1", "0", "Invalid tag number"),
    ("14a user range", "0", [(5000, "HI")], "5000", "0", "Invalid tag number"),
    ("14c tag of another type", "0", [(55, "MSFT")], "55", "2", "Tag not defined for this message type"),
    ("14d no value", "1", [(112, "")], "112", "4", "Tag specified without a value"),
    ("14e enum", "D", _order_body(ord_type="w"), "40", "5", "Value is incorrect (out of range) for this tag"),
    ("14f format", "D", _order_body(qty="+10"), "38", "6", "Incorrect data format for value"),
    ("14h repeated", "1", [(112, "a"), (112, "b")], "112", "13", "Tag appears more than once"),
    (
        "14i group count",
        "D",
        [*_order_body(), (386, 3), (336, "PRE-OPEN"), (336, "AFTER-HOURS")],
        "386",
        "16",
        "Incorrect NumInGroup count for repeating group",
    ),
    ("required tag", "2", [(7, 1)], "16", "1", "Required tag missing"),
]


@pytest.mark.parametrize(
    ("msg_type", "body", "ref_tag", "reason", "text"),
    [case[1:] for case in FIELD_PROBLEMS],
    ids=[case[0] for case in FIELD_PROBLEMS],
)
async def test_field_problem_is_rejected_and_its_seqnum_used_up(
    client: FixTestClient, msg_type: str, body: RawFields, ref_tag: str, reason: str, text: str
) -> None:
    client.send_raw(raw_frame([*_header(client, msg_type, 2), *body]))
    reject = await client.expect_any()
    assert _values(reject, 35, 45, 371, 372, 373, 58) == ["3", "2", ref_tag, msg_type, reason, text]
    await _assert_seq_used_up(client, 3)


async def test_missing_header_field_is_rejected_not_logged_out(client: FixTestClient) -> None:
    client.send_raw(raw_frame([(35, "0"), (34, 2), (49, "OMS-A"), (52, utc_timestamp())]))  # 14b
    reject = await client.expect_any()
    assert _values(reject, 35, 45, 371, 373, 58) == ["3", "2", "56", "1", "Required tag missing"]
    await _assert_seq_used_up(client, 3)


def _header_after_body(client: FixTestClient) -> RawFields:
    return [(35, "D"), *_order_body(), *_header(client, "D", 2)[1:]]


def _header_after_one_body_field(client: FixTestClient) -> RawFields:
    body = _order_body()
    return [(35, "D"), body[2], *_header(client, "D", 2)[1:], *body[:2], *body[3:]]


@pytest.mark.parametrize("layout", [_header_after_body, _header_after_one_body_field])
async def test_header_field_after_a_body_field_is_out_of_order(
    client: FixTestClient, layout: Callable[[FixTestClient], RawFields]
) -> None:
    client.send_raw(raw_frame(layout(client)))  # 14g
    reject = await client.expect_any()
    assert _values(reject, 35, 45, 371, 373, 58) == [
        "3",
        "2",
        "34",
        "14",
        "Tag specified out of required order",
    ]
    await _assert_seq_used_up(client, 3)


async def test_reject_routes_back_to_the_third_party(client: FixTestClient) -> None:
    header = _header(client, "D", 2)
    client.send_raw(raw_frame([*header, (115, "JCD"), (116, "CS"), *_order_body(ord_type="w")]))
    reject = await client.expect_any()
    assert _values(reject, 35, 128, 129, 115, 371) == ["3", "JCD", "CS", None, "40"]


async def test_first_three_fields_out_of_order_is_ignored(client: FixTestClient) -> None:
    garbled = raw_frame(
        [(35, "1"), (34, 2), (49, "OMS-A"), (52, utc_timestamp()), (56, "MOCKEX"), (112, "X")]
    )
    client.send_raw(garbled.replace(b"8=FIX.4.4\x01", b"").replace(b"35=1\x01", b"35=1\x018=FIX.4.4\x01", 1))
    await _assert_seq_used_up(client, 2)  # 2t: nothing answered, 2 still expected


async def test_wrong_begin_string_is_logged_out_and_the_logout_awaits_the_reply(
    venue: Venue, client: FixTestClient
) -> None:
    fields = [*_header(client, "1", 2), (112, "id")]
    client.send_raw(raw_frame(fields, begin_string="FIX.4.1"))  # 2i
    logout = await client.expect_any()
    assert _values(logout, 35, 58) == ["5", "Incorrect BeginString"]
    session = venue.sessions.get("OMS-A")
    assert session is not None
    assert session.next_in_seq == 3, "the message with the wrong BeginString used up its MsgSeqNum"
    client.next_seq = 3
    client.send("2", [(7, 1), (16, 0)])  # still answered while the venue waits for the Logout
    gap_fill = await client.expect_any()
    assert _values(gap_fill, 35, 34, 123, 36) == ["4", "1", "Y", "3"]  # over its Logon and Logout
    client.send("5")
    assert await client.expect_closed() == []
    assert '"event":"disconnect"' in venue.config.ledger_path.read_text()


async def test_logout_without_a_reply_closes_after_the_logout_timeout(tmp_path: Path) -> None:
    async with (
        Venue(venue_config(tmp_path, logout_timeout_s=0.2)) as venue,
        client_factory(venue.fix_port) as connect,
    ):
        client = await connect()
        await client.logon()
        client.send_raw(raw_frame([*_header(client, "1", 2), (112, "id")], begin_string="FIX.4.2"))
        [logout] = await client.expect_closed()
        assert field(logout, 58) == "Incorrect BeginString"
        assert "no Logout reply in time" in venue.config.ledger_path.read_text()


async def test_messages_after_the_venue_logout_are_not_acted_on(client: FixTestClient) -> None:
    client.send_raw(raw_frame([*_header(client, "1", 2), (112, "id")], begin_string="FIX.4.3"))
    await client.expect("5", skip=())
    client.next_seq = 3
    client.new_order("oms-a-after-logout", price=1.0)
    client.send("5")
    assert await client.expect_closed() == [], "an order after the venue's Logout was acknowledged"


async def test_a_test_request_is_answered_while_the_venue_awaits_the_logout_reply(
    client: FixTestClient,
) -> None:
    client.send_raw(raw_frame([*_header(client, "1", 2), (112, "id")], begin_string="FIX.4.3"))
    await client.expect("5", skip=())
    client.next_seq = 3
    client.send("1", [(112, "still-there")])
    heartbeat = await client.expect_any()
    assert _values(heartbeat, 35, 112) == ["0", "still-there"]
    client.send("5")
    assert await client.expect_closed() == []


async def test_logon_with_a_wrong_begin_string_is_disconnected_unanswered(
    venue: Venue, connect: Connect
) -> None:
    client = await connect()
    fields: RawFields = [*_header(client, "A", 1), (98, 0), (108, 30)]
    client.send_raw(raw_frame(fields, begin_string="FIX.3.9"))  # 1d
    assert await client.expect_closed() == []
    assert "is not FIX.4.4" in venue.config.ledger_path.read_text()


async def test_first_message_not_logon_is_disconnected_with_the_reason_recorded(
    venue: Venue, connect: Connect
) -> None:
    client = await connect()
    client.send("0")  # 1e
    assert await client.expect_closed() == []
    assert "first message was MsgType '0', not Logon" in venue.config.ledger_path.read_text()


async def test_malformed_logon_is_refused_with_the_problem(connect: Connect) -> None:
    client = await connect()
    client.send("A", [(98, 0), (108, "thirty")])
    [logout] = await client.expect_closed()
    assert _values(logout, 35, 58) == [
        "5",
        "Invalid Logon message: Incorrect data format for value, field=108",
    ]


async def test_counterparty_logout_is_answered_then_disconnected(client: FixTestClient) -> None:
    client.send("5")  # 13b
    [logout] = await client.expect_closed()
    assert _values(logout, 35, 34) == ["5", "2"]


async def test_logon_with_reset_flag_in_session_restarts_both_seqnums(client: FixTestClient) -> None:
    for _ in range(3):
        client.send("0")
    client.send("1", [(112, "before")])
    assert field(await client.expect("0", skip=()), 112) == "before"
    client.send("A", [(98, 0), (108, 30), (141, "Y")], seq=1)
    logon = await client.expect_any()
    assert _values(logon, 35, 34, 141) == ["A", "1", "Y"]
    client.next_seq = 2
    client.send("1", [(112, "after")])
    heartbeat = await client.expect_any()
    assert _values(heartbeat, 35, 34, 112) == ["0", "2", "after"]


async def test_rejected_resent_message_lets_the_queue_drain_in_order(client: FixTestClient) -> None:
    client.send("1", [(112, "HELLO1")], seq=3)
    resend = await client.expect_any()
    assert _values(resend, 35, 7, 16) == ["2", "2", "0"]
    header = [*_header(client, "D", 2)[:4], (43, "Y"), (122, utc_timestamp(-1)), (56, "MOCKEX")]
    client.send_raw(raw_frame([*header, *_order_body(), (126, "20040415")]))
    reject = await client.expect_any()
    assert _values(reject, 35, 45, 371, 373) == ["3", "2", "126", "6"]
    client.send("1", [(112, "HELLO2")], seq=4)
    answers = [await client.expect_any() for _ in range(2)]
    assert [_values(answer, 35, 112) for answer in answers] == [["0", "HELLO1"], ["0", "HELLO2"]]
