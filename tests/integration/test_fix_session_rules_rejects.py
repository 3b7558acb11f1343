"""FIX 4.4 session rules at the venue, one test per rule, over real sockets: invalid MsgType
(test case 2q), unsupported application message (2r), field-level Rejects (14a-14f) and
fields in another order than the specification's (15).

Each rejected message uses up its MsgSeqNum (the next one in order is answered at once) and the
session goes on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mock_exchange.venue import Venue
from tests.integration.fix_wire import Fields, Value, WirePeer, frame, utc
from tests.integration.venue_helpers import FAR_BELOW, venue_config

pytestmark = pytest.mark.integration


@pytest.fixture
async def peer(tmp_path: Path) -> AsyncIterator[WirePeer]:
    async with Venue(venue_config(tmp_path)) as venue:
        logged_on = await WirePeer.connect(venue.fix_port)
        await logged_on.logon()
        yield logged_on
        await logged_on.close()


def _order(**changes: Value | None) -> Fields:
    """A limit NewOrderSingle body; ``changes`` maps ``t<tag>`` to a new value (None: left out)."""
    body: dict[int, Value | None] = {
        11: "rj-1",
        21: 1,
        55: "BTC-USD",
        54: 1,
        38: 10,
        40: 2,
        44: FAR_BELOW,
        60: utc(),
    }
    for key, value in changes.items():
        body[int(key[1:])] = value
    return [(tag, value) for tag, value in body.items() if value is not None]


async def _session_goes_on(peer: WirePeer) -> None:
    heartbeat = await peer.nothing_sent_since("goes-on")
    assert heartbeat.get(34) == "3", "the venue sent more than the one answer"


async def test_2q_an_invalid_msgtype_is_rejected_373_11(peer: WirePeer) -> None:
    peer.send("ZZ")
    reject = await peer.next("3")
    assert reject.values(45, 372, 373, 58) == ["2", "ZZ", "11", "Invalid MsgType"]
    await _session_goes_on(peer)


async def test_2r_an_application_message_the_venue_does_not_handle_gets_a_business_reject(
    peer: WirePeer,
) -> None:
    peer.send("R", [(131, "quote-1"), (146, 1), (55, "BTC-USD")])
    reject = await peer.next("j")
    assert reject.values(45, 372, 380) == ["2", "R", "3"]
    await _session_goes_on(peer)


FIELD_RULES: list[tuple[str, str, Fields, str, str, str]] = [
    # (case, MsgType, body, RefTagID, SessionRejectReason, Text)
    ("14a-undefined-tag", "1", [(112, "x"), (9999, "y")], "9999", "0", "Invalid tag number"),
    ("14b-required-tag-missing", "D", _order(t54=None), "54", "1", "Required tag missing"),
    ("14b-required-tag-missing-resend", "2", [(7, 1)], "16", "1", "Required tag missing"),
    (
        "14c-tag-not-for-this-type",
        "1",
        [(112, "x"), (55, "BTC-USD")],
        "55",
        "2",
        "Tag not defined for this message type",
    ),
    ("14d-tag-without-value", "1", [(112, "")], "112", "4", "Tag specified without a value"),
    (
        "14e-value-out-of-range",
        "D",
        _order(t54="Z"),
        "54",
        "5",
        "Value is incorrect (out of range) for this tag",
    ),
    ("14f-incorrect-data-format", "D", _order(t38="ten"), "38", "6", "Incorrect data format for value"),
    (
        "14f-incorrect-timestamp",
        "D",
        _order(t60="2024-01-01 00:00"),
        "60",
        "6",
        "Incorrect data format for value",
    ),
]


@pytest.mark.parametrize(
    ("msg_type", "body", "ref_tag", "reason", "text"),
    [rule[1:] for rule in FIELD_RULES],
    ids=[rule[0] for rule in FIELD_RULES],
)
async def test_14_a_field_problem_is_rejected_naming_the_tag_and_the_seqnum_used_up(
    peer: WirePeer, msg_type: str, body: Fields, ref_tag: str, reason: str, text: str
) -> None:
    peer.send(msg_type, body)
    reject = await peer.next("3")
    assert reject.values(45, 371, 372, 373, 58) == ["2", ref_tag, msg_type, reason, text]
    await _session_goes_on(peer)


async def test_14b_a_missing_header_field_is_rejected_373_1(peer: WirePeer) -> None:
    header = [field for field in peer.header("1") if field[0] != 56]
    peer.send_bytes(frame([*header, (112, "no-target")]))
    reject = await peer.next("3")
    assert reject.values(45, 371, 373) == ["2", "56", "1"]
    await _session_goes_on(peer)


async def test_15_header_and_body_fields_in_another_order_are_accepted(peer: WirePeer) -> None:
    msg_type, sender, target, seq, sending_time = peer.header("D")
    body = _order(t11="reordered")
    peer.send_bytes(frame([msg_type, sending_time, seq, target, sender, *reversed(body)]))
    report = await peer.next("8")
    assert report.values(11, 150, 39) == ["reordered", "0", "0"]
    await _session_goes_on(peer)
