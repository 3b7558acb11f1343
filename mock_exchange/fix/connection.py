"""FIX 4.4 session rules for one TCP connection of the acceptor (FIX 4.4 session layer).

:class:`AcceptorConnection` is transport-agnostic (bytes in, bytes out, a clock): Logon (a
garbled one ends the connection), Logout (a venue Logout waits for the counterparty's),
Heartbeat/TestRequest timers (:mod:`mock_exchange.fix.liveness`), the BeginString, field-level
validation against the FIX 4.4 dictionary, SendingTime, CompID and PossDup checks, inbound
sequencing (gaps queue messages and trigger one ResendRequest; the queue drains in order once
filled: :mod:`mock_exchange.fix.sequencing`), SequenceReset in both modes, ResendRequest, and a
Logon with ResetSeqNumFlag in session. Application messages go to a :class:`SessionListener`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable

from mock_exchange.fault_board import FaultBoard
from mock_exchange.fix import tags
from mock_exchange.fix.admin_messages import (
    answer_resend,
    answer_test_request,
    int_field,
    new_seq_no,
    send_logon_reply,
)
from mock_exchange.fix.checks import (
    COMP_ID_PROBLEM,
    REJECT_TEXTS,
    SENDING_TIME_PROBLEM,
    RejectReason,
    send_session_reject,
    sending_time_is_accurate,
)
from mock_exchange.fix.codec import BEGIN_STRING, FixMessage, FixStreamParser
from mock_exchange.fix.liveness import Liveness
from mock_exchange.fix.logon import judge_logon, resets_on_logon
from mock_exchange.fix.sequencing import InboundSequence
from mock_exchange.fix.session import (
    CoalescingTransport,
    FixSession,
    SessionListener,
    SessionRegistry,
    Transport,
    send_refusal,
)
from mock_exchange.fix.shapes import MessageShapes
from mock_exchange.fix.tags import ADMIN_MSG_TYPES, MsgType
from mock_exchange.fix.validation import Problem, fix44_validator, poss_dup_problem

log = logging.getLogger(__name__)

INCORRECT_BEGIN_STRING = "Incorrect BeginString"
GARBLED_LOGON = "garbled Logon message (BodyLength, CheckSum or 8, 9, 35 not first)"
# a rejected message still uses up its MsgSeqNum, except these (as FIX engines do)
_REJECTED_KEEP_SEQ = frozenset({MsgType.LOGON, MsgType.SEQUENCE_RESET})
# while the venue waits for the Logout it asked for, only these are acted on (a TestRequest is
# answered: the counterparty may be checking the link before it answers the Logout)
_AFTER_LOGOUT = frozenset(
    {MsgType.LOGOUT, MsgType.RESEND_REQUEST, MsgType.SEQUENCE_RESET, MsgType.TEST_REQUEST}
)


class AcceptorConnection:
    """Session rules for one connection; binds to a :class:`FixSession` at Logon."""

    def __init__(
        self,
        transport: Transport,
        registry: SessionRegistry,
        listener: SessionListener,
        *,
        default_heartbeat_s: int,
        logon_timeout_s: float,
        logout_timeout_s: float = 2.0,
        faults: FaultBoard | None = None,
        batch: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext,
        timers_changed: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
        before_send: Callable[[], None] = lambda: None,
        peer: str = "",
    ) -> None:
        self._peer = peer  # the counterparty's address: a refused logon is recorded with it
        self._batch = batch
        self._transport = CoalescingTransport(transport, before_send)
        self._registry = registry
        self._listener = listener
        self._faults = faults if faults is not None else FaultBoard()
        self._validator = fix44_validator()
        self._venue_comp_id = registry.venue_comp_id.encode()
        self._default_heartbeat_s = default_heartbeat_s
        self._logon_timeout_s = logon_timeout_s
        self._logout_timeout_s = logout_timeout_s
        self._timers_changed = timers_changed
        self._clock = clock
        self._shapes = MessageShapes()
        self._parser = FixStreamParser(shapes=self._shapes)
        self._opened_at = clock()
        self._liveness = Liveness(self._opened_at)
        self._sequence = InboundSequence(
            self._dispatch,
            overflow=lambda text: self.logout(text, await_reply=False),
            closing=lambda: self._closing,
        )
        self._closing = False
        self._logout_deadline: float | None = None  # set while waiting for the Logout reply
        self._logged_out = False
        self._close_reason = "connection lost"
        self.session: FixSession | None = None

    # -- events from the transport ---------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """Handle every message in ``data``; their answers leave in one write at the end."""
        self._transport.hold()
        try:
            with self._batch():
                messages = self._parser.feed(data)
                garbled_at = self._parser.garbled_at  # a garbled Logon ends the connection
                for index, message in enumerate(messages):
                    if self._closing or (index == garbled_at and self.session is None):
                        break
                    self._liveness.received(self._clock())
                    if self.session is None:
                        self._on_logon(message)
                    else:
                        self._on_message(self.session, message)
                if garbled_at is not None and self.session is None and not self._closing:
                    self._listener.on_logon_refused("", GARBLED_LOGON, peer=self._peer)
                    self.close(GARBLED_LOGON)
        finally:
            self._transport.release()

    def connection_lost(self) -> None:
        self._closing = True
        self._sequence.release()  # what waits behind a gap, and a partial frame, go with it
        self._parser = FixStreamParser(shapes=self._shapes)
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
        if session is None or self._logout_deadline is not None:
            deadline = self._logout_deadline or self._opened_at + self._logon_timeout_s
            if now >= deadline:
                self.close("no Logon received in time" if session is None else "no Logout reply in time")
                return 1.0
            return deadline - now
        give_up, next_check = self._liveness.tick(session, now)
        if give_up is not None:
            self.close(give_up)
        return next_check

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

    def logout(self, text: str | None, *, await_reply: bool = True) -> None:
        """Venue-initiated Logout (with ``text`` when given): record and send it.

        The connection then closes when the counterparty's Logout arrives or the logout
        timeout passes; at once when ``await_reply`` is false.
        """
        session = self.session
        reason = text or "logged out by the venue"
        if session is None or self._closing or self._logout_deadline is not None:
            if session is None or not await_reply:
                self.close(reason)
            return
        self._listener.on_logout(session, reason)
        session.send(MsgType.LOGOUT, [(tags.TEXT, text.encode())] if text else [])
        if not await_reply:
            self.close(reason)
            return
        self._close_reason = reason
        self._logout_deadline = self._clock() + self._logout_timeout_s
        self._timers_changed()

    # -- logon -----------------------------------------------------------------------------

    def _on_logon(self, message: FixMessage) -> None:
        sender_comp_id = message.get_str(tags.SENDER_COMP_ID) or ""
        verdict = judge_logon(message, self._registry, self._faults, self._validator)
        if verdict.session is None:
            self._listener.on_logon_refused(sender_comp_id, verdict.refusal, peer=self._peer)
            if verdict.answered:
                send_refusal(
                    self._transport,
                    venue_comp_id=self._registry.venue_comp_id,
                    sender_comp_id=sender_comp_id,
                    text=verdict.refusal,
                )
            self.close(verdict.refusal)
            return
        self._accept_logon(verdict.session, message)

    def _accept_logon(self, session: FixSession, message: FixMessage) -> None:
        reset = resets_on_logon(session, message)
        if reset:
            session.reset_sequence_numbers()
        seq = int_field(message, tags.MSG_SEQ_NUM) or 1
        heartbeat = int_field(message, tags.HEART_BT_INT)
        session.heartbeat_s = heartbeat if heartbeat and heartbeat > 0 else self._default_heartbeat_s
        session.transport = self._transport
        session.logged_on = True
        self.session = session
        gap = seq > session.next_in_seq
        if not gap:
            session.next_in_seq = seq + 1
        self._listener.on_logon(session)
        send_logon_reply(session, reset=reset)
        self._timers_changed()
        if gap:
            self._sequence.hold(session, seq, None)  # the Logon itself is done; only its number counts

    def _on_reset_logon(self, session: FixSession, seq: int) -> None:
        """A Logon with ResetSeqNumFlag(141)=Y in session: both sides start again at 1."""
        session.reset_sequence_numbers()
        session.next_in_seq = seq + 1
        self._sequence.restart()
        self._listener.on_logon(session)
        send_logon_reply(session, reset=True)

    # -- logged on: checks and sequencing ------------------------------------------------------

    def _on_message(self, session: FixSession, message: FixMessage) -> None:
        seq = int_field(message, tags.MSG_SEQ_NUM)
        if message.begin_string != BEGIN_STRING:
            if message.msg_type == MsgType.LOGOUT:
                self._on_logout(session)
                return
            self._sequence.consume(session, seq)
            self.logout(INCORRECT_BEGIN_STRING)
            return
        if not message.prevalidated:  # else a shape of a valid layout matched it
            problem = self._validator.validate(message)
            if problem is not None:
                self._reject_invalid(session, message, seq, problem)
                return
            self._shapes.learn(message)
        assert seq is not None  # MsgSeqNum is a required SEQNUM: validated
        if not self._passes_identity_checks(session, message, seq):
            return
        msg_type = message.msg_type
        if msg_type == MsgType.LOGON and message.get(tags.RESET_SEQ_NUM_FLAG) == b"Y":
            self._on_reset_logon(session, seq)
            return
        if msg_type == MsgType.SEQUENCE_RESET and message.get(tags.GAP_FILL_FLAG) != b"Y":
            self._on_sequence_reset(session, message, seq)
            return
        expected = session.next_in_seq
        if seq > expected:
            self._on_too_high(session, message, seq)
        elif seq < expected:
            self._on_too_low(session, message, seq, expected)
        else:
            self._sequence.accept(session, message, seq)

    def _passes_identity_checks(self, session: FixSession, message: FixMessage, seq: int) -> bool:
        """SendingTime within the tolerance and the CompIDs of the session; else Reject, Logout.

        The rejected message uses up its MsgSeqNum when it is the one expected (2k, 2o).
        """
        if not sending_time_is_accurate(message):
            reason, text, logout_text = RejectReason.SENDING_TIME_ACCURACY, SENDING_TIME_PROBLEM, None
        elif (
            message.get(tags.SENDER_COMP_ID) != session.sender_comp_id_bytes
            or message.get(tags.TARGET_COMP_ID) != self._venue_comp_id
        ):
            reason, text, logout_text = RejectReason.COMP_ID_PROBLEM, COMP_ID_PROBLEM, COMP_ID_PROBLEM
        else:
            return True
        send_session_reject(session, message, seq, reason=reason, text=text)
        self.logout(logout_text)
        if seq == session.next_in_seq:
            self._sequence.consume(session, seq)  # after the Logout: what it releases is not acted on
        return False

    def _reject_invalid(
        self, session: FixSession, message: FixMessage, seq: int | None, problem: Problem
    ) -> None:
        """A message failing validation: Reject naming the tag; its MsgSeqNum is used up."""
        send_session_reject(
            session,
            message,
            seq or 0,
            reason=problem.reason,
            text=REJECT_TEXTS[problem.reason],
            ref_tag=problem.tag,
        )
        if message.msg_type not in _REJECTED_KEEP_SEQ:
            self._sequence.consume(session, seq)

    def _on_too_high(self, session: FixSession, message: FixMessage, seq: int) -> None:
        msg_type = message.msg_type
        if msg_type == MsgType.LOGOUT:
            self._on_logout(session)
            return
        if msg_type == MsgType.RESEND_REQUEST:
            answer_resend(session, message, seq)
            self._sequence.hold(session, seq, None)
        else:
            self._sequence.hold(session, seq, message)

    def _on_too_low(self, session: FixSession, message: FixMessage, seq: int, expected: int) -> None:
        """A possible duplicate is ignored (once its OrigSendingTime passes); a Logout or a
        ResendRequest is acted on whatever its number (as FIX engines do); anything else logs out."""
        msg_type = message.msg_type
        if message.get(tags.POSS_DUP_FLAG) == b"Y":
            self._poss_dup_passes(session, message, seq)
        elif msg_type == MsgType.LOGOUT:
            self._on_logout(session)
        elif msg_type == MsgType.RESEND_REQUEST:
            answer_resend(session, message, seq)  # its number is not counted: it was used before
        else:
            self.logout(f"MsgSeqNum too low, expecting {expected} but received {seq}", await_reply=False)

    def _poss_dup_passes(self, session: FixSession, message: FixMessage, seq: int) -> bool:
        """PossDupFlag=Y needs OrigSendingTime (2g: Reject 373=1) not after SendingTime (2f:
        Reject 373=10, Logout). A SequenceReset is exempt."""
        problem = None if message.msg_type == MsgType.SEQUENCE_RESET else poss_dup_problem(message)
        if problem is None:
            return True
        text = REJECT_TEXTS[problem.reason]
        send_session_reject(session, message, seq, reason=problem.reason, text=text, ref_tag=problem.tag)
        if problem.reason is RejectReason.SENDING_TIME_ACCURACY:
            self.logout(None)
        return False

    def _on_sequence_reset(self, session: FixSession, message: FixMessage, seq: int) -> None:
        """SequenceReset-Reset: its own MsgSeqNum is ignored; NewSeqNo must not go back."""
        new_seq = new_seq_no(session, message, seq, gap_fill=False)
        if new_seq is None:
            return
        self._sequence.jump_to(session, new_seq)

    # -- logged on: dispatch ---------------------------------------------------------------

    def _dispatch(self, session: FixSession, message: FixMessage, seq: int) -> None:
        msg_type = message.msg_type
        if self._logout_deadline is not None and msg_type not in _AFTER_LOGOUT:
            log.info("ignoring MsgType %r from %s after Logout", msg_type, session.sender_comp_id)
            return
        if message.get(tags.POSS_DUP_FLAG) == b"Y" and not self._poss_dup_passes(session, message, seq):
            return
        if msg_type not in ADMIN_MSG_TYPES:
            self._dispatch_application(session, message, seq)
        elif msg_type == MsgType.TEST_REQUEST:
            answer_test_request(session, message)
        elif msg_type == MsgType.RESEND_REQUEST:
            answer_resend(session, message, seq)
        elif msg_type == MsgType.SEQUENCE_RESET:
            new_seq = new_seq_no(session, message, seq, gap_fill=True)
            if new_seq is not None:
                session.next_in_seq = new_seq
        elif msg_type == MsgType.LOGOUT:
            self._on_logout(session)
        elif msg_type == MsgType.LOGON:
            self.logout("Logon received on a session that is already logged on")
        # Heartbeat and Reject need nothing more

    def _dispatch_application(self, session: FixSession, message: FixMessage, seq: int) -> None:
        try:
            self._listener.on_app_message(session, message)
        except Exception:
            log.exception("error handling %r from %s", message.msg_type, session.sender_comp_id)
            send_session_reject(session, message, seq, reason=RejectReason.OTHER, text="venue error")

    def _on_logout(self, session: FixSession) -> None:
        """The counterparty's Logout: the reply to the venue's, or answered with one; then close."""
        self._logged_out = True
        if self._logout_deadline is not None:
            self.close("Logout confirmed by counterparty")
            return
        text = "logout requested by counterparty"
        self._listener.on_logout(session, text)
        session.send(MsgType.LOGOUT, [])
        self.close(text)

    def _session_name(self) -> str:
        return self.session.sender_comp_id if self.session else "not logged on"
