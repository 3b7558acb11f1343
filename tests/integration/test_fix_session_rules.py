"""FIX 4.4 session rules at the venue, one test per rule, over real sockets: Logon (test cases
1S a-e, 1d), garbled frames (2d, 2m, 3b, 3c, 2t), BeginString (2i), heartbeats and TestRequest
(4a, 4b, 6), Logout (13b) and duplicate identity (1S b).

The client is :mod:`tests.integration.fix_wire`: raw frames, written from the specification.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from mock_exchange.config import SessionConfig, VenueConfig
from mock_exchange.venue import Venue
from tests.integration.fix_wire import Fields, WirePeer, fields_of, frame, frame_body, utc
from tests.integration.venue_helpers import venue_config

pytestmark = pytest.mark.integration

Connect = Callable[..., Awaitable[WirePeer]]
LOGON_BODY: Fields = [(98, 0), (108, 30), (141, "Y")]


@pytest.fixture
def venue_settings(tmp_path: Path) -> VenueConfig:
    # timeouts far beyond the tests' waits: a disconnect seen here is the rule, not a timer
    return venue_config(
        tmp_path,
        sessions=(SessionConfig(sender_comp_id="OMS-A"), SessionConfig(sender_comp_id="OMS-B")),
        logon_timeout_s=30,
        logout_timeout_s=30,
    )


@pytest.fixture
async def connect(venue: Venue) -> AsyncIterator[Connect]:
    peers: list[WirePeer] = []

    async def open_peer(sender: str = "OMS-A", target: str = "MOCKEX") -> WirePeer:
        peer = await WirePeer.connect(venue.fix_port, sender, target)
        peers.append(peer)
        return peer

    yield open_peer
    for peer in peers:
        await peer.close()


@pytest.fixture
async def peer(connect: Connect) -> WirePeer:
    logged_on = await connect()
    await logged_on.logon()
    return logged_on


def _ledger(venue: Venue) -> str:
    return venue.config.ledger_path.read_text()


# -- 1S: Logon ----------------------------------------------------------------------------------


async def test_1s_a_a_valid_logon_is_answered_with_a_logon(connect: Connect) -> None:
    peer = await connect()
    peer.send("A", [(98, 0), (108, 30)])
    logon = await peer.next("A")
    assert logon.values(49, 56, 34, 98, 108) == ["MOCKEX", "OMS-A", "1", "0", "30"]
    heartbeat = await peer.nothing_sent_since("after-logon")
    assert heartbeat.get(34) == "2"


async def test_1s_a_a_logon_with_msgseqnum_too_high_is_answered_then_resend_requested(
    connect: Connect,
) -> None:
    peer = await connect()
    peer.send("A", [(98, 0), (108, 30)], seq=5)
    logon = await peer.next("A")
    resend = await peer.next("2")
    assert [logon.get(34), *resend.values(34, 7, 16)] == ["1", "2", "1", "0"]


async def test_1s_b_duplicate_identity_is_disconnected_without_a_message(
    venue: Venue, connect: Connect, peer: WirePeer
) -> None:
    peer.send("1", [(112, "first")])
    assert (await peer.next("0")).values(34, 112) == ["2", "first"]
    second = await connect()
    second.send("A", LOGON_BODY)
    assert await second.closed() == [], "a message to the duplicate would use up a MsgSeqNum"
    assert "already logged on" in _ledger(venue)
    heartbeat = await peer.nothing_sent_since("still-first")
    assert heartbeat.get(34) == "3", "the live session's numbers were disturbed"


@pytest.mark.parametrize(("sender", "target"), [("NOBODY", "MOCKEX"), ("OMS-A", "ELSEWHERE")])
async def test_1s_c_a_logon_of_an_unknown_identity_is_disconnected_without_a_message(
    connect: Connect, sender: str, target: str
) -> None:
    peer = await connect(sender, target)
    peer.send("A", LOGON_BODY)
    assert await peer.closed() == []


@pytest.mark.parametrize("offset_s", [-121.0, 121.0, -10 * 365 * 86400.0])
async def test_1s_d_a_logon_with_sending_time_out_of_the_window_is_logged_out_and_disconnected(
    venue: Venue, connect: Connect, offset_s: float
) -> None:
    peer = await connect()
    peer.send("A", [(98, 0), (108, 30)], sending_time=utc(offset_s))
    messages = await peer.closed()
    assert [message.msg_type for message in messages] == ["5"]
    assert "SendingTime accuracy problem" in (messages[0].get(58) or "")
    assert "OMS-A" not in venue.ledger.sessions, "the refused Logon logged the session on"
    assert "SendingTime accuracy problem" in _ledger(venue)


@pytest.mark.parametrize("delta", [-20, 20], ids=["body-length-short", "body-length-long"])
async def test_1s_d_a_logon_with_a_wrong_body_length_is_disconnected(
    venue: Venue, connect: Connect, delta: int
) -> None:
    peer = await connect()
    peer.send_bytes(frame([*peer.header("A"), *LOGON_BODY], body_length_delta=delta))
    assert await peer.closed() == []
    assert "garbled" in _ledger(venue)


async def test_1s_d_a_logon_with_a_wrong_checksum_is_disconnected(connect: Connect) -> None:
    peer = await connect()
    peer.send_bytes(frame([*peer.header("A"), *LOGON_BODY], checksum_delta=1))
    assert await peer.closed() == []


async def test_1s_d_a_logon_with_its_first_three_fields_out_of_order_is_disconnected(
    connect: Connect,
) -> None:
    peer = await connect()
    fields = peer.header("A")
    peer.send_bytes(frame([fields[3], fields[0], *fields[1:3], *fields[4:], *LOGON_BODY]))  # 34 before 35
    assert await peer.closed() == []


async def test_1s_d_a_logon_with_another_begin_string_is_disconnected(connect: Connect) -> None:
    peer = await connect()
    peer.send_bytes(frame([*peer.header("A"), *LOGON_BODY], begin_string="FIX.4.2"))
    assert await peer.closed() == []


async def test_1s_e_a_first_message_other_than_logon_is_disconnected(connect: Connect) -> None:
    peer = await connect()
    peer.send("1", [(112, "hello")])
    assert await peer.closed() == []


# -- 2d, 2m, 3b, 3c, 2t: garbled messages are ignored and use up no MsgSeqNum ------------------


def _body(fields: Fields) -> bytes:
    """The bytes between BodyLength and CheckSum of ``fields``."""
    return frame(fields).split(b"\x01", 2)[2][:-7]


# a Heartbeat (MsgSeqNum 2) garbled each way: built from its header fields 35, 49, 56, 34, 52
GARBLED_HEARTBEATS: dict[str, Callable[[Fields], bytes]] = {
    "2d-non-numeric-tag": lambda fields: frame([*fields[:4], ("5x2", utc())]),
    "3c-field-without-equals": lambda fields: frame_body(_body(fields).replace(b"56=", b"56", 1)),
    "2m-body-length-short": lambda fields: frame(fields, body_length_delta=-3),
    "2m-body-length-long": lambda fields: frame(fields, body_length_delta=3),
    "3b-checksum": lambda fields: frame(fields, checksum_delta=7),
    "2t-msgtype-first": lambda fields: b"35=0\x01" + frame(fields[1:]),
    "2t-msgseqnum-before-msgtype": lambda fields: frame([fields[3], fields[0], *fields[1:3], fields[4]]),
}


@pytest.mark.parametrize("case", list(GARBLED_HEARTBEATS))
async def test_2d_3b_a_garbled_message_is_ignored_without_using_up_its_msgseqnum(
    peer: WirePeer, case: str
) -> None:
    peer.send_bytes(GARBLED_HEARTBEATS[case](peer.header("0", seq=2)))
    peer.next_seq = 2  # the garbled message did not count: 2 is still expected
    heartbeat = await peer.nothing_sent_since(f"after-{case}")
    assert heartbeat.get(34) == "2", "the garbled message was answered"


async def test_2m_a_garbled_message_does_not_swallow_the_next_one(peer: WirePeer) -> None:
    too_long = frame([*peer.header("0", seq=2)], body_length_delta=30)
    peer.send_bytes(too_long + frame([*peer.header("1", seq=2), (112, "behind")]))
    peer.next_seq = 3
    assert (await peer.next("0")).get(112) == "behind"


# -- 2i: BeginString ------------------------------------------------------------------------------


async def test_2i_another_begin_string_is_logged_out_and_disconnected(peer: WirePeer) -> None:
    peer.send_bytes(frame([*peer.header("1"), (112, "x")], begin_string="FIX.4.2"))
    logout = await peer.next("5")
    assert logout.get(58) == "Incorrect BeginString"
    peer.send("5")
    assert await peer.closed() == []


# -- 4a, 4b, 6: Heartbeat and TestRequest -----------------------------------------------------------


async def test_4b_a_test_request_is_answered_with_a_heartbeat_echoing_its_test_req_id(
    peer: WirePeer,
) -> None:
    peer.send("1", [(112, "ECHO-ME 42")])
    heartbeat = await peer.next("0")
    assert heartbeat.values(34, 112) == ["2", "ECHO-ME 42"]


async def test_4a_6_silence_brings_heartbeats_then_a_test_request_then_a_disconnect(
    connect: Connect,
) -> None:
    peer = await connect()
    await peer.logon(heartbeat_s=1)
    received = await peer.closed(timeout_s=6.0)  # after 2.4 x HeartBtInt without a word
    kinds = [message.msg_type for message in received]
    assert "0" in kinds, "no Heartbeat in a silent HeartBtInt"
    test_requests = [message for message in received if message.msg_type == "1"]
    assert len(test_requests) == 1, kinds
    assert test_requests[0].get(112), "a TestRequest without TestReqID"


async def test_6_a_test_request_answered_keeps_the_session_up(connect: Connect) -> None:
    peer = await connect()
    await peer.logon(heartbeat_s=1)
    while (message := await peer.receive(3.0)) is not None and message.msg_type != "1":
        pass
    assert message is not None, "the venue disconnected instead of sending a TestRequest"
    peer.send("0", [(112, message.get(112) or "")])
    heartbeat = await peer.nothing_sent_since("alive")
    assert heartbeat.get(112) == "alive"


# -- 13b: Logout ---------------------------------------------------------------------------------------


async def test_13b_an_unsolicited_logout_is_answered_with_a_logout_then_disconnected(
    peer: WirePeer,
) -> None:
    peer.send("5")
    messages = await peer.closed()
    assert fields_of(messages, 35, 34) == [["5", "2"]]
