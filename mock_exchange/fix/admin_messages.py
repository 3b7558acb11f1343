"""Answers to the session-level messages a logged-on counterparty sends (FIX 4.4 session layer).

Logon reply, TestRequest, ResendRequest and the NewSeqNo(36) check of SequenceReset; the
sequencing around them lives in :mod:`mock_exchange.fix.connection`.
"""

from __future__ import annotations

from mock_exchange.fix import tags
from mock_exchange.fix.checks import (
    REQUIRED_TAG_MISSING,
    VALUE_OUT_OF_RANGE,
    RejectReason,
    send_session_reject,
)
from mock_exchange.fix.codec import FixMessage
from mock_exchange.fix.session import FixSession
from mock_exchange.fix.tags import MsgType


def send_logon_reply(session: FixSession, *, reset: bool) -> None:
    reply = [(tags.ENCRYPT_METHOD, b"0"), (tags.HEART_BT_INT, b"%d" % session.heartbeat_s)]
    if reset:
        reply.append((tags.RESET_SEQ_NUM_FLAG, b"Y"))
    session.send(MsgType.LOGON, reply)


def answer_test_request(session: FixSession, message: FixMessage) -> None:
    session.send(MsgType.HEARTBEAT, [(tags.TEST_REQ_ID, message.get(tags.TEST_REQ_ID) or b"")])


def answer_resend(session: FixSession, message: FixMessage, seq: int) -> None:
    """Resend what the ResendRequest asks for, or Reject it when a bound is missing."""
    begin = int_field(message, tags.BEGIN_SEQ_NO)
    end = int_field(message, tags.END_SEQ_NO)
    if begin is None or end is None:
        missing = tags.BEGIN_SEQ_NO if begin is None else tags.END_SEQ_NO
        send_session_reject(
            session,
            message,
            seq,
            reason=RejectReason.REQUIRED_TAG_MISSING,
            text=REQUIRED_TAG_MISSING,
            ref_tag=missing,
        )
        return
    session.resend(begin, end)


def new_seq_no(session: FixSession, message: FixMessage, seq: int, *, gap_fill: bool) -> int | None:
    """NewSeqNo(36) of a SequenceReset, or ``None`` after rejecting it (missing or going back).

    A GapFill must move past its own MsgSeqNum; a Reset must not go below the expected number.
    """
    new_seq = int_field(message, tags.NEW_SEQ_NO)
    if new_seq is not None and new_seq > (seq if gap_fill else session.next_in_seq - 1):
        return new_seq
    reason = RejectReason.REQUIRED_TAG_MISSING if new_seq is None else RejectReason.VALUE_INCORRECT
    text = REQUIRED_TAG_MISSING if new_seq is None else VALUE_OUT_OF_RANGE
    send_session_reject(session, message, seq, reason=reason, text=text, ref_tag=tags.NEW_SEQ_NO)
    return None


MAX_INT_DIGITS = 18  # as the FIX 4.4 dictionary reads integers: every one fits 64 bits


def int_field(message: FixMessage, tag: int) -> int | None:
    """A non-negative integer field's value; ``None`` when absent, not digits or too long to be one."""
    value = message.get(tag)
    if value is None or not value.isdigit() or len(value) > MAX_INT_DIGITS:
        return None
    return int(value)
