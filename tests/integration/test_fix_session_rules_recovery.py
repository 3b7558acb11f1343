"""FIX 4.4 session rules at the venue, one test per rule, over real sockets: MsgSeqNum (test
cases 2a-2c), PossDupFlag and OrigSendingTime (2e-2g), CompID and SendingTime after Logon (2k,
2o), Reject received (7), ResendRequest (8, 20), SequenceReset-GapFill (10) and -Reset (11),
and a Logout whatever its MsgSeqNum (13b).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mock_exchange.venue import Venue
from tests.integration.fix_wire import Fields, Value, WirePeer, fields_of, frame, utc
from tests.integration.venue_helpers import FAR_BELOW, venue_config

pytestmark = pytest.mark.integration


@pytest.fixture
async def peer(tmp_path: Path) -> AsyncIterator[WirePeer]:
    """Logged on as OMS-A; the venue waits 30 s for the answer to a Logout of its own."""
    config = venue_config(tmp_path, logon_timeout_s=30, logout_timeout_s=30)
    async with Venue(config) as venue:
        logged_on = await WirePeer.connect(venue.fix_port)
        await logged_on.logon()
        yield logged_on
        await logged_on.close()


async def _heartbeats(peer: WirePeer, count: int) -> None:
    """``count`` TestRequests in order, each answered by a Heartbeat (2a)."""
    for number in range(count):
        await peer.nothing_sent_since(f"hb-{number}")


def _order(cl_ord_id: str) -> Fields:
    return [
        (50, "oms-a"),
        (11, cl_ord_id),
        (55, "BTC-USD"),
        (54, 1),
        (38, 10),
        (40, 2),
        (44, FAR_BELOW),
        (59, 0),
        (60, utc()),
    ]


async def _logged_out_then_closed(peer: WirePeer) -> None:
    """The venue logged out and waits: answer with a Logout; it must close, sending nothing more."""
    peer.send("5")
    assert await peer.closed() == []


# -- 2a-2c: MsgSeqNum ---------------------------------------------------------------------------


async def test_2b_msgseqnum_too_high_asks_for_the_gap_and_processes_in_order_once_filled(
    peer: WirePeer,
) -> None:
    peer.send("1", [(112, "at-4")], seq=4)
    resend = await peer.next("2")
    assert resend.values(7, 16) == ["2", "0"]
    peer.send("4", [(123, "Y"), (36, 4)], seq=2, poss_dup=True, orig_sending_time=utc(-1))
    assert (await peer.next("0")).get(112) == "at-4"
    peer.next_seq = 5
    await peer.nothing_sent_since("at-5")


async def test_2c_msgseqnum_too_low_without_possdup_is_logged_out_and_disconnected(
    peer: WirePeer,
) -> None:
    await _heartbeats(peer, 3)
    peer.send("0", seq=2)
    messages = await peer.closed()
    assert fields_of(messages, 35, 58) == [["5", "MsgSeqNum too low, expecting 5 but received 2"]]


# -- 2e-2g: PossDupFlag ---------------------------------------------------------------------------


async def test_2e_a_possdup_already_received_is_ignored_and_one_not_received_processed(
    peer: WirePeer,
) -> None:
    await _heartbeats(peer, 1)
    peer.send("1", [(112, "dup")], seq=2, poss_dup=True, orig_sending_time=utc(-1))  # seen: ignored
    peer.send("1", [(112, "new")], seq=3, poss_dup=True, orig_sending_time=utc(-1))  # not seen yet
    assert (await peer.next("0")).get(112) == "new"
    peer.next_seq = 4
    await peer.nothing_sent_since("after-dup")


async def test_2f_possdup_with_orig_sending_time_after_sending_time_is_rejected_then_logged_out(
    peer: WirePeer,
) -> None:
    await _heartbeats(peer, 2)
    peer.send("0", seq=2, poss_dup=True, orig_sending_time=utc(10))
    reject = await peer.next("3")
    assert reject.values(45, 372, 373, 58) == ["2", "0", "10", "SendingTime accuracy problem"]
    await peer.next("5")
    await _logged_out_then_closed(peer)


async def test_2f_the_same_holds_for_the_expected_msgseqnum(peer: WirePeer) -> None:
    peer.send("1", [(112, "late")], poss_dup=True, orig_sending_time=utc(10))
    reject = await peer.next("3")
    assert reject.values(45, 372, 373) == ["2", "1", "10"]
    await peer.next("5")
    await _logged_out_then_closed(peer)


async def test_2g_possdup_without_orig_sending_time_is_rejected_below_the_expected_number(
    peer: WirePeer,
) -> None:
    await _heartbeats(peer, 2)
    peer.send("0", seq=2, poss_dup=True)
    reject = await peer.next("3")
    assert reject.values(45, 371, 372, 373, 58) == ["2", "122", "0", "1", "Required tag missing"]
    await peer.nothing_sent_since("expected-unchanged")  # 4 is still the number expected


async def test_2g_possdup_without_orig_sending_time_at_the_expected_number_uses_it_up(
    peer: WirePeer,
) -> None:
    peer.send("1", [(112, "no-122")], poss_dup=True)
    reject = await peer.next("3")  # the TestRequest itself is not acted on
    assert reject.values(45, 371, 373) == ["2", "122", "1"]
    await peer.nothing_sent_since("at-3")


# -- 2k, 2o: CompID and SendingTime after Logon -----------------------------------------------------


@pytest.mark.parametrize(
    ("case", "reason", "text", "logout_text"),
    [
        ("2k", "9", "CompID problem", "CompID problem"),
        ("2o-early", "10", "SendingTime accuracy problem", None),
        ("2o-late", "10", "SendingTime accuracy problem", None),
    ],
)
async def test_2k_2o_a_bad_comp_id_or_sending_time_is_rejected_counted_and_logged_out(
    peer: WirePeer, case: str, reason: str, text: str, logout_text: str | None
) -> None:
    header = peer.header("0", sending_time={"2o-early": utc(-121), "2o-late": utc(121)}.get(case))
    if case == "2k":
        header[1] = (49, "SOMEONE")
    peer.send_bytes(frame(header))
    reject = await peer.next("3")
    assert reject.values(45, 372, 373, 58) == ["2", "0", reason, text]
    assert (await peer.next("5")).get(58) == logout_text
    await peer.nothing_sent_since("counted")  # 3 is next: the bad message used up 2
    await _logged_out_then_closed(peer)


# -- 7: Reject received -------------------------------------------------------------------------------


async def test_7_a_reject_received_uses_up_its_msgseqnum_and_is_not_answered(peer: WirePeer) -> None:
    peer.send("3", [(45, 1), (58, "just so")])
    await peer.nothing_sent_since("after-reject")


# -- 8, 20: ResendRequest ---------------------------------------------------------------------------


async def test_8_admin_messages_are_resent_as_one_gap_fill(peer: WirePeer) -> None:
    await _heartbeats(peer, 3)  # the venue's 2, 3 and 4 are Heartbeats
    peer.send("2", [(7, 2), (16, 4)])
    gap_fill = await peer.next("4")
    assert gap_fill.values(34, 43, 123, 36) == ["2", "Y", "Y", "5"]
    assert (gap_fill.get(122) or "") <= (gap_fill.get(52) or ""), gap_fill
    assert (await peer.nothing_sent_since("numbers-kept")).get(34) == "5"


async def test_8_app_messages_are_resent_with_possdup_and_orig_sending_time(peer: WirePeer) -> None:
    await _heartbeats(peer, 1)  # venue 2: Heartbeat
    peer.send("D", _order("rs-1"))
    report = await peer.next("8")  # venue 3: ExecutionReport
    await _heartbeats(peer, 1)  # venue 4: Heartbeat
    peer.send("2", [(7, 1), (16, 0)])
    resent = [await peer.next(msg_type) for msg_type in ("4", "8", "4")]
    assert fields_of(resent, 35, 34, 43, 123, 36) == [
        ["4", "1", "Y", "Y", "3"],
        ["8", "3", "Y", None, None],
        ["4", "4", "Y", "Y", "5"],
    ]
    original = resent[1]
    assert original.get(122) == report.get(52)
    unchanged = [(tag, value) for tag, value in report.fields if tag not in (9, 10, 52)]
    assert [(tag, value) for tag, value in original.fields if tag not in (9, 10, 43, 52, 122)] == unchanged
    assert (await peer.nothing_sent_since("after-resend")).get(34) == "5"


async def test_8_a_resend_request_below_the_expected_number_is_still_answered(peer: WirePeer) -> None:
    await _heartbeats(peer, 2)
    peer.send("2", [(7, 1), (16, 0)], seq=2)  # 4 is expected: no PossDup, yet answered
    gap_fill = await peer.next("4")
    assert gap_fill.values(34, 43, 123, 36) == ["1", "Y", "Y", "4"]
    heartbeat = await peer.nothing_sent_since("not-logged-out")
    assert heartbeat.get(34) == "4"


async def test_20_a_resend_request_while_waiting_for_a_gap_is_answered_and_the_gap_still_filled(
    peer: WirePeer,
) -> None:
    peer.send("D", _order("sim-1"))
    await peer.next("8")  # venue 2
    peer.send("0", seq=5)
    assert (await peer.next("2")).values(7, 16) == ["3", "0"]  # venue 3
    peer.send("2", [(7, 2), (16, 2)], seq=6)
    assert (await peer.next("8")).values(34, 43) == ["2", "Y"]
    peer.send("4", [(123, "Y"), (36, 5)], seq=3, poss_dup=True, orig_sending_time=utc(-1))
    peer.next_seq = 7
    assert (await peer.nothing_sent_since("filled")).get(34) == "4"


# -- 10: SequenceReset-GapFill -------------------------------------------------------------------------


async def test_10a_a_gap_fill_beyond_the_expected_number_asks_for_the_gap(peer: WirePeer) -> None:
    peer.send("4", [(123, "Y"), (36, 20)], seq=10)
    assert (await peer.next("2")).values(7, 16) == ["2", "0"]


async def test_10b_a_gap_fill_at_the_expected_number_moves_it_to_new_seq_no(peer: WirePeer) -> None:
    peer.send("4", [(123, "Y"), (36, 20)])
    peer.next_seq = 20
    await peer.nothing_sent_since("at-20")


async def test_10c_a_gap_fill_below_the_expected_number_with_possdup_is_ignored(peer: WirePeer) -> None:
    peer.send("4", [(123, "Y"), (36, 20)], seq=1, poss_dup=True, orig_sending_time=utc(-1))
    await peer.nothing_sent_since("still-2")


async def test_10d_a_gap_fill_below_the_expected_number_without_possdup_logs_out(peer: WirePeer) -> None:
    await _heartbeats(peer, 1)
    peer.send("4", [(123, "Y"), (36, 20)], seq=1)
    messages = await peer.closed()
    assert fields_of(messages, 35, 58) == [["5", "MsgSeqNum too low, expecting 3 but received 1"]]


async def test_10e_a_gap_fill_that_would_lower_the_number_is_rejected(peer: WirePeer) -> None:
    peer.send("4", [(123, "Y"), (36, 2)])
    reject = await peer.next("3")
    assert reject.values(45, 371, 372, 373) == ["2", "36", "4", "5"]


# -- 11: SequenceReset-Reset ------------------------------------------------------------------------


@pytest.mark.parametrize(("gap_fill_flag", "new_seq_no"), [(None, 25), ("N", 25), (None, 2)])
async def test_11a_11b_a_reset_sets_the_expected_number_whatever_its_msgseqnum(
    peer: WirePeer, gap_fill_flag: str | None, new_seq_no: int
) -> None:
    body: list[tuple[int | str, Value]] = [(36, new_seq_no)]
    if gap_fill_flag is not None:
        body.append((123, gap_fill_flag))
    peer.send("4", body, seq=0)
    peer.next_seq = new_seq_no
    await peer.nothing_sent_since(f"at-{new_seq_no}")


async def test_11c_a_reset_to_a_lower_number_is_rejected_and_changes_nothing(peer: WirePeer) -> None:
    await _heartbeats(peer, 2)
    peer.send("4", [(36, 1)], seq=0)
    reject = await peer.next("3")
    assert reject.values(45, 371, 372, 373, 58) == [
        "0",
        "36",
        "4",
        "5",
        "Value is incorrect (out of range) for this tag",
    ]
    peer.next_seq = 4
    await peer.nothing_sent_since("still-4")


# -- 13b: a Logout whatever its MsgSeqNum ------------------------------------------------------------


@pytest.mark.parametrize("seq", [1, 9], ids=["too-low", "too-high"])
async def test_13b_a_logout_is_answered_with_a_plain_logout_whatever_its_msgseqnum(
    peer: WirePeer, seq: int
) -> None:
    await _heartbeats(peer, 2)
    peer.send("5", seq=seq)
    messages = await peer.closed()
    assert fields_of(messages, 35, 58) == [["5", None]]
