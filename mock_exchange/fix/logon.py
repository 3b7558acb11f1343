"""Whether the first message of a connection logs a session on (FIX 4.4 session layer, Logon).

A connection that does not speak FIX 4.4, opens with anything but a Logon, names an identity
the venue does not know or a session already logged on is disconnected without an answer. A
Logon of a known, free session that is malformed, arrives during a reconnect cooldown, has a
bad SendingTime or a MsgSeqNum too low is refused with a Logout saying why.
"""

from __future__ import annotations

from dataclasses import dataclass

from mock_exchange.fault_board import FaultBoard
from mock_exchange.fix import tags
from mock_exchange.fix.checks import REJECT_TEXTS, SENDING_TIME_PROBLEM, sending_time_is_accurate
from mock_exchange.fix.codec import BEGIN_STRING, FixMessage
from mock_exchange.fix.session import FixSession, SessionRegistry
from mock_exchange.fix.tags import MsgType
from mock_exchange.fix.validation import MessageValidator


@dataclass(frozen=True, slots=True)
class LogonVerdict:
    """The session a Logon logs on, or why it does not (``answered``: with a Logout)."""

    session: FixSession | None
    refusal: str = ""
    answered: bool = False


def judge_logon(
    message: FixMessage, registry: SessionRegistry, faults: FaultBoard, validator: MessageValidator
) -> LogonVerdict:
    """The verdict on the first message of a connection."""
    silent = _silent_refusal(message, registry)
    if silent is not None:
        return LogonVerdict(None, silent)
    session = registry.for_logon(message.get_str(tags.SENDER_COMP_ID) or "")
    assert session is not None  # _silent_refusal checked it
    refusal = _answered_refusal(session, message, faults, validator)
    if refusal is not None:
        return LogonVerdict(None, refusal, answered=True)
    return LogonVerdict(session)


def resets_on_logon(session: FixSession, message: FixMessage) -> bool:
    return session.reset_on_logon or message.get(tags.RESET_SEQ_NUM_FLAG) == b"Y"


def _silent_refusal(message: FixMessage, registry: SessionRegistry) -> str | None:
    if message.begin_string != BEGIN_STRING:
        return f"BeginString {message.begin_string.decode('latin-1')!r} is not FIX.4.4"
    if message.msg_type != MsgType.LOGON:
        return f"first message was MsgType {_quoted(message.msg_type.decode('latin-1'))}, not Logon"
    if message.get(tags.TARGET_COMP_ID) != registry.venue_comp_id.encode():
        return f"TargetCompID must be {registry.venue_comp_id}"
    sender_comp_id = message.get_str(tags.SENDER_COMP_ID) or ""
    session = registry.for_logon(sender_comp_id)
    if session is None:
        return f"unknown SenderCompID {_quoted(sender_comp_id)}"
    if session.connected:
        return f"session {sender_comp_id} is already logged on"
    return None


_MAX_QUOTED = 64


def _quoted(text: str) -> str:
    """``text`` quoted, cut to a few dozen characters (a refusal names what the peer sent)."""
    return repr(text) if len(text) <= _MAX_QUOTED else f"{text[:_MAX_QUOTED]!r}...({len(text)} chars)"


def _answered_refusal(
    session: FixSession, message: FixMessage, faults: FaultBoard, validator: MessageValidator
) -> str | None:
    problem = validator.validate(message)
    if problem is not None:
        return f"Invalid Logon message: {REJECT_TEXTS[problem.reason]}, field={problem.tag}"
    cooldown = faults.logon_refusal(session.sender_comp_id, session.firm)
    if cooldown is not None:
        return cooldown
    if not sending_time_is_accurate(message):
        return f"Invalid Logon message: {SENDING_TIME_PROBLEM}, field=52"
    seq = int(message.get(tags.MSG_SEQ_NUM) or b"0")  # present and numeric: validated
    if not resets_on_logon(session, message) and seq < session.next_in_seq:
        return f"MsgSeqNum too low, expecting {session.next_in_seq} but received {seq}"
    return None
