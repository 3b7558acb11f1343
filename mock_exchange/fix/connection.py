"""FIX 4.4 session rules for one TCP connection of the acceptor (FIX 4.4 session layer).

:class:`AcceptorConnection` is transport-agnostic (bytes in, bytes out, a clock): Logon,
Logout, Heartbeat/TestRequest timers, SendingTime and CompID checks, inbound sequencing
(gaps queue messages and trigger one ResendRequest; the queue drains in order once filled),
SequenceReset in both modes, ResendRequest. Application messages go to a
:class:`SessionListener`; it never sees session-level traffic.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
from collections.abc import Callable
from typing import Protocol

from mock_exchange.fault_board import FaultBoard
from mock_exchange.fix import tags
from mock_exchange.fix.checks import (
    COMP_ID_PROBLEM,
    REQUIRED_TAG_MISSING,
    SENDING_TIME_PROBLEM,
    VALUE_OUT_OF_RANGE,
    RejectReason,
    parse_utc_timestamp,
    send_session_reject,
    sending_time_is_accurate,
)
from mock_exchange.fix.codec import FixMessage, FixStreamParser
from mock_exchange.fix.session import FixSession, SessionRegistry, Transport, send_refusal
from mock_exchange.fix.tags import MsgType

log = logging.getLogger(__name__)

TEST_REQUEST_AFTER = 1.2  # x HeartBtInt of inbound silence
DISCONNECT_AFTER = 2.4  # x HeartBtInt of inbound silence
MAX_QUEUED = 100_000  # messages held behind a gap; beyond that the session is logged out


class CoalescingTransport:
    """Holds writes while a batch of inbound messages is handled, then sends them as one."""

    __slots__ = ("_held", "_holding", "_transport")

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._held: list[bytes] = []
        self._holding = False

    def hold(self) -> None:
        self._holding = True

    def release(self) -> None:
        self._holding = False
        if self._held:
            data = b"".join(self._held)
            self._held.clear()
            self._transport.write(data)

    def write(self, data: bytes) -> None:
        if self._holding:
            self._held.append(data)
        else:
            self._transport.write(data)

    def close(self) -> None:
        self.release()
        self._transport.close()


class SessionListener(Protocol):
    """What the venue does on session events; each call happens before the venue answers."""

    def on_logon(self, session: FixSession) -> None: ...

    def on_logon_refused(self, sender_comp_id: str, text: str) -> None: ...

    def on_logout(self, session: FixSession, text: str) -> None: ...

    def on_disconnect(self, session: FixSession, text: str) -> None: ...

    def on_app_message(self, session: FixSession, message: FixMessage) -> None: ...


class AcceptorConnection:
    """Session rules for one connection; binds to a :class:`FixSession` at Logon."""

    _test_request_ids = itertools.count(1)

    def __init__(
        self,
        transport: Transport,
        registry: SessionRegistry,
        listener: SessionListener,
        *,
        default_heartbeat_s: int,
        logon_timeout_s: float,
        faults: FaultBoard | None = None,
        batch: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._batch = batch
        self._transport = CoalescingTransport(transport)
        self._registry = registry
        self._listener = listener
        self._faults = faults if faults is not None else FaultBoard()
        self._venue_comp_id = registry.venue_comp_id.encode()
        self._default_heartbeat_s = default_heartbeat_s
        self._logon_timeout_s = logon_timeout_s
        self._clock = clock
        self._parser = FixStreamParser()
        self._opened_at = self._last_received = clock()
        self._test_request_pending = False
        self._resend_requested_until = 0
        self._queued: dict[int, tuple[FixMessage, bool]] = {}  # seq -> (message, already answered)
        self._closing = False
        self._logged_out = False
        self._close_reason = "connection lost"
        self.session: FixSession | None = None

    # -- events from the transport ---------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """Handle every message in ``data``; their answers leave in one write at the end."""
        self._transport.hold()
        try:
            with self._batch():
                for message in self._parser.feed(data):
                    if self._closing:
                        return
                    self._last_received = self._clock()
                    self._test_request_pending = False
                    if self.session is None:
                        self._on_logon(message)
                    else:
                        self._on_message(self.session, message)
        finally:
            self._transport.release()

    def connection_lost(self) -> None:
        self._closing = True
        session = self.session
        if session is None:
            return
        session.transport = None
        session.logged_on = False
        self._faults.note_disconnect(session.sender_comp_id, session.firm, clean=self._logged_out)
        self._listener.on_disconnect(session, self._close_reason)

    def check_timers(self) -> float:
        """Run due heartbeat/TestRequest/timeout actions; return seconds until the next check."""
        now = self._clock()
        session = self.session
        if self._closing:
            return 1.0
        if session is None:
            deadline = self._opened_at + self._logon_timeout_s
            if now >= deadline:
                self.close("no Logon received in time")
                return 1.0
            return deadline - now
        heartbeat = float(session.heartbeat_s)
        silence = now - self._last_received
        if silence >= DISCONNECT_AFTER * heartbeat:
            self.close(f"no message for {silence:.1f}s (HeartBtInt {session.heartbeat_s})")
            return 1.0
        if silence >= TEST_REQUEST_AFTER * heartbeat and not self._test_request_pending:
            test_request_id = b"TEST-%d" % next(self._test_request_ids)
            session.send(MsgType.TEST_REQUEST, [(tags.TEST_REQ_ID, test_request_id)])
            self._test_request_pending = True
        if now - session.last_sent >= heartbeat:
            session.send(MsgType.HEARTBEAT, [])
        silence_limit = DISCONNECT_AFTER if self._test_request_pending else TEST_REQUEST_AFTER
        next_check = min(self._last_received + silence_limit * heartbeat, session.last_sent + heartbeat)
        return max(0.01, next_check - now)

    def close(self, reason: str) -> None:
        """Close the connection without a Logout (the transport flushes what was written)."""
        if self._closing:
            return
        self._closing = True
        self._close_reason = reason
        if self.session is not None:
            self.session.logged_on = False
        log.info("closing FIX connection (%s): %s", self._session_name(), reason)
        self._transport.close()

    def logout(self, text: str | None) -> None:
        """Venue-initiated Logout (with ``text`` when given): record it, send it, close."""
        session = self.session
        reason = text or "logged out by the venue"
        if session is None or self._closing:
            self.close(reason)
            return
        self._listener.on_logout(session, reason)
        session.send(MsgType.LOGOUT, [(tags.TEXT, text.encode())] if text else [])
        self.close(reason)

    # -- logon -----------------------------------------------------------------------------

    def _on_logon(self, message: FixMessage) -> None:
        sender_comp_id = message.get_str(tags.SENDER_COMP_ID) or ""
        if message.msg_type != MsgType.LOGON:
            self.close(f"first message was MsgType {message.msg_type!r}, not Logon")
            return
        session, problem = self._session_for_logon(message, sender_comp_id)
        if session is None:
            # an unknown identity or a duplicate logon gets no answer, only a disconnect
            self._listener.on_logon_refused(sender_comp_id, problem)
            self.close(problem)
            return
        refusal = self._logon_refusal(session, message)
        if refusal is not None:
            self._refuse_logon(sender_comp_id, refusal)
            return
        self._accept_logon(session, message)

    def _session_for_logon(self, message: FixMessage, sender_comp_id: str) -> tuple[FixSession | None, str]:
        if message.get(tags.TARGET_COMP_ID) != self._venue_comp_id:
            return None, f"TargetCompID must be {self._registry.venue_comp_id}"
        session = self._registry.for_logon(sender_comp_id)
        if session is None:
            return None, f"unknown SenderCompID {sender_comp_id!r}"
        if session.connected:
            return None, f"session {sender_comp_id} is already logged on"
        return session, ""

    def _logon_refusal(self, session: FixSession, message: FixMessage) -> str | None:
        """Why a Logon of a known, free session is refused (answered with a Logout), if it is."""
        cooldown = self._faults.logon_refusal(session.sender_comp_id, session.firm)
        if cooldown is not None:
            return cooldown
        if not sending_time_is_accurate(message):
            return f"Invalid Logon message: {SENDING_TIME_PROBLEM}, field=52"
        seq = _int_field(message, tags.MSG_SEQ_NUM)
        if seq is None:
            return "MsgSeqNum(34) missing"
        if self._resets_on_logon(session, message):
            return None
        if seq < session.next_in_seq:
            return f"MsgSeqNum too low, expecting {session.next_in_seq} but received {seq}"
        return None

    @staticmethod
    def _resets_on_logon(session: FixSession, message: FixMessage) -> bool:
        return session.reset_on_logon or message.get(tags.RESET_SEQ_NUM_FLAG) == b"Y"

    def _accept_logon(self, session: FixSession, message: FixMessage) -> None:
        reset = self._resets_on_logon(session, message)
        if reset:
            session.reset_sequence_numbers()
        seq = _int_field(message, tags.MSG_SEQ_NUM) or 1
        heartbeat = _int_field(message, tags.HEART_BT_INT)
        session.heartbeat_s = heartbeat if heartbeat and heartbeat > 0 else self._default_heartbeat_s
        session.transport = self._transport
        session.logged_on = True
        self.session = session
        gap = seq > session.next_in_seq
        if not gap:
            session.next_in_seq = seq + 1
        self._listener.on_logon(session)
        reply = [(tags.ENCRYPT_METHOD, b"0"), (tags.HEART_BT_INT, b"%d" % session.heartbeat_s)]
        if reset:
            reply.append((tags.RESET_SEQ_NUM_FLAG, b"Y"))
        session.send(MsgType.LOGON, reply)
        if gap:
            self._queued[seq] = (message, True)  # the Logon itself is done; only its number counts
            self._request_resend(session, seq)

    def _refuse_logon(self, sender_comp_id: str, text: str) -> None:
        self._listener.on_logon_refused(sender_comp_id, text)
        send_refusal(
            self._transport,
            venue_comp_id=self._registry.venue_comp_id,
            sender_comp_id=sender_comp_id,
            text=text,
        )
        self.close(text)

    # -- logged on: checks and sequencing ------------------------------------------------------

    def _on_message(self, session: FixSession, message: FixMessage) -> None:
        seq = _int_field(message, tags.MSG_SEQ_NUM)
        if seq is None:
            self.logout("MsgSeqNum(34) missing or not a number")
            return
        if not sending_time_is_accurate(message):
            send_session_reject(
                session, message, seq, reason=RejectReason.SENDING_TIME_ACCURACY, text=SENDING_TIME_PROBLEM
            )
            self.logout(None)
            return
        if (
            message.get(tags.SENDER_COMP_ID) != session.sender_comp_id_bytes
            or message.get(tags.TARGET_COMP_ID) != self._venue_comp_id
        ):
            send_session_reject(
                session, message, seq, reason=RejectReason.COMP_ID_PROBLEM, text=COMP_ID_PROBLEM
            )
            self.logout(COMP_ID_PROBLEM)
            return
        if message.msg_type == MsgType.SEQUENCE_RESET and message.get(tags.GAP_FILL_FLAG) != b"Y":
            self._on_sequence_reset(session, message, seq)
            return
        expected = session.next_in_seq
        if seq > expected:
            self._on_too_high(session, message, seq)
        elif seq < expected:
            self._on_too_low(session, message, seq, expected)
        else:
            self._accept(session, message, seq, answered=False)

    def _accept(self, session: FixSession, message: FixMessage, seq: int, *, answered: bool) -> None:
        """Process the expected message, then whatever the queue holds right behind it."""
        session.next_in_seq = seq + 1
        self._dispatch(session, message, seq, answered=answered)
        while not self._closing and self._queued:
            for stale in [queued for queued in self._queued if queued < session.next_in_seq]:
                del self._queued[stale]
            entry = self._queued.pop(session.next_in_seq, None)
            if entry is None:
                return
            seq = session.next_in_seq
            session.next_in_seq = seq + 1
            self._dispatch(session, entry[0], seq, answered=entry[1])

    def _on_too_high(self, session: FixSession, message: FixMessage, seq: int) -> None:
        msg_type = message.msg_type
        if msg_type == MsgType.LOGOUT:
            self._on_logout(session)
            return
        answered = msg_type == MsgType.RESEND_REQUEST
        if answered:
            self._answer_resend(session, message, seq)
        if len(self._queued) >= MAX_QUEUED:
            self.logout(f"more than {MAX_QUEUED} messages behind a sequence gap")
            return
        self._queued[seq] = (message, answered)
        if session.next_in_seq > self._resend_requested_until:
            self._request_resend(session, seq)

    def _on_too_low(self, session: FixSession, message: FixMessage, seq: int, expected: int) -> None:
        if message.get(tags.POSS_DUP_FLAG) != b"Y":
            self.logout(f"MsgSeqNum too low, expecting {expected} but received {seq}")
            return
        if message.msg_type == MsgType.SEQUENCE_RESET:
            return
        orig_value = message.get(tags.ORIG_SENDING_TIME)
        orig = None if orig_value is None else parse_utc_timestamp(orig_value)
        sent = parse_utc_timestamp(message.get(tags.SENDING_TIME) or b"")
        if orig is None:
            send_session_reject(
                session,
                message,
                seq,
                reason=RejectReason.REQUIRED_TAG_MISSING,
                text=REQUIRED_TAG_MISSING,
                ref_tag=tags.ORIG_SENDING_TIME,
            )
        elif sent is not None and orig > sent:
            send_session_reject(
                session, message, seq, reason=RejectReason.SENDING_TIME_ACCURACY, text=SENDING_TIME_PROBLEM
            )
            self.logout(None)
        # else: a possible duplicate of a message already processed: ignored

    def _request_resend(self, session: FixSession, seen_seq: int) -> None:
        self._resend_requested_until = seen_seq
        session.send(
            MsgType.RESEND_REQUEST,
            [(tags.BEGIN_SEQ_NO, b"%d" % session.next_in_seq), (tags.END_SEQ_NO, b"0")],
        )

    def _on_sequence_reset(self, session: FixSession, message: FixMessage, seq: int) -> None:
        """SequenceReset-Reset: its own MsgSeqNum is ignored; NewSeqNo must not go back."""
        new_seq = _int_field(message, tags.NEW_SEQ_NO)
        if new_seq is None or new_seq < session.next_in_seq:
            _reject_new_seq_no(session, message, seq, new_seq)
            return
        session.next_in_seq = new_seq
        entry = self._queued.pop(new_seq, None)
        if entry is not None:
            self._accept(session, entry[0], new_seq, answered=entry[1])

    # -- logged on: dispatch ---------------------------------------------------------------

    def _dispatch(self, session: FixSession, message: FixMessage, seq: int, *, answered: bool) -> None:
        msg_type = message.msg_type
        if msg_type == MsgType.HEARTBEAT or msg_type == MsgType.REJECT:
            return
        if msg_type == MsgType.TEST_REQUEST:
            test_request_id = message.get(tags.TEST_REQ_ID) or b""
            session.send(MsgType.HEARTBEAT, [(tags.TEST_REQ_ID, test_request_id)])
        elif msg_type == MsgType.RESEND_REQUEST:
            if not answered:
                self._answer_resend(session, message, seq)
        elif msg_type == MsgType.SEQUENCE_RESET:
            self._on_gap_fill(session, message, seq)
        elif msg_type == MsgType.LOGOUT:
            self._on_logout(session)
        elif msg_type == MsgType.LOGON:
            if not answered:
                self.logout("Logon received on a session that is already logged on")
        else:
            self._dispatch_application(session, message, seq)

    def _on_gap_fill(self, session: FixSession, message: FixMessage, seq: int) -> None:
        new_seq = _int_field(message, tags.NEW_SEQ_NO)
        if new_seq is None or new_seq <= seq:
            _reject_new_seq_no(session, message, seq, new_seq)
            return
        session.next_in_seq = new_seq

    def _dispatch_application(self, session: FixSession, message: FixMessage, seq: int) -> None:
        try:
            self._listener.on_app_message(session, message)
        except Exception:
            log.exception("error handling %r from %s", message.msg_type, session.sender_comp_id)
            send_session_reject(session, message, seq, reason=RejectReason.OTHER, text="venue error")

    def _answer_resend(self, session: FixSession, message: FixMessage, seq: int) -> None:
        begin = _int_field(message, tags.BEGIN_SEQ_NO)
        end = _int_field(message, tags.END_SEQ_NO)
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

    def _on_logout(self, session: FixSession) -> None:
        text = "logout requested by counterparty"
        self._logged_out = True
        self._listener.on_logout(session, text)
        session.send(MsgType.LOGOUT, [])
        self.close(text)

    def _session_name(self) -> str:
        return self.session.sender_comp_id if self.session else "not logged on"


def _reject_new_seq_no(session: FixSession, message: FixMessage, seq: int, new_seq: int | None) -> None:
    """Reject a SequenceReset whose NewSeqNo(36) is missing or goes backwards."""
    reason = RejectReason.REQUIRED_TAG_MISSING if new_seq is None else RejectReason.VALUE_INCORRECT
    text = REQUIRED_TAG_MISSING if new_seq is None else VALUE_OUT_OF_RANGE
    send_session_reject(session, message, seq, reason=reason, text=text, ref_tag=tags.NEW_SEQ_NO)


def _int_field(message: FixMessage, tag: int) -> int | None:
    value = message.get(tag)
    if value is None or not value.isdigit():
        return None
    return int(value)
