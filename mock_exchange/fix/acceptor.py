"""FIX 4.4 acceptor: the session rules applied to one TCP connection, and the asyncio server.

:class:`AcceptorConnection` is transport-agnostic (bytes in, bytes out, a clock): Logon,
Logout, Heartbeat/TestRequest timers, inbound sequence checks, ResendRequest. Application
messages are handed to a :class:`SessionListener`; it never sees session-level traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable
from typing import Protocol

from mock_exchange.fault_board import FaultBoard
from mock_exchange.fix import tags
from mock_exchange.fix.codec import FixMessage, FixStreamParser
from mock_exchange.fix.session import FixSession, SessionRegistry, Transport, send_refusal
from mock_exchange.fix.tags import MsgType

log = logging.getLogger(__name__)

TEST_REQUEST_AFTER = 1.2  # x HeartBtInt of inbound silence
DISCONNECT_AFTER = 2.4  # x HeartBtInt of inbound silence


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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transport = transport
        self._faults = faults if faults is not None else FaultBoard()
        self._registry = registry
        self._listener = listener
        self._venue_comp_id = registry.venue_comp_id.encode()
        self._default_heartbeat_s = default_heartbeat_s
        self._logon_timeout_s = logon_timeout_s
        self._clock = clock
        self._parser = FixStreamParser()
        self._opened_at = self._last_received = clock()
        self._test_request_pending = False
        self._resend_requested_until = 0
        self._closing = False
        self._logged_out = False
        self._close_reason = "connection lost"
        self.session: FixSession | None = None

    # -- events from the transport ---------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        for message in self._parser.feed(data):
            if self._closing:
                return
            self._last_received = self._clock()
            self._test_request_pending = False
            if self.session is None:
                self._on_logon(message)
            else:
                self._on_session_message(self.session, message)

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

    def logout(self, text: str) -> None:
        """Venue-initiated Logout: record it, send it, close."""
        session = self.session
        if session is None or self._closing:
            self.close(text)
            return
        self._listener.on_logout(session, text)
        session.send(MsgType.LOGOUT, [(tags.TEXT, text.encode())])
        self.close(text)

    # -- logon -----------------------------------------------------------------------------

    def _on_logon(self, message: FixMessage) -> None:
        sender_comp_id = message.get_str(tags.SENDER_COMP_ID) or ""
        if message.msg_type != MsgType.LOGON:
            self.close(f"first message was MsgType {message.msg_type!r}, not Logon")
            return
        session, refusal = self._session_for_logon(message, sender_comp_id)
        if session is None:
            self._refuse_logon(sender_comp_id, refusal)
            return
        cooldown = self._faults.logon_refusal(session.sender_comp_id, session.firm)
        if cooldown is not None:
            self._refuse_logon(sender_comp_id, cooldown)
            return
        seq = _int_field(message, tags.MSG_SEQ_NUM)
        reset = message.get(tags.RESET_SEQ_NUM_FLAG) == b"Y" or session.reset_on_logon
        if reset:
            session.reset_sequence_numbers()
        if seq is None or seq < session.next_in_seq:
            text = (
                "MsgSeqNum(34) missing"
                if seq is None
                else f"MsgSeqNum too low, expecting {session.next_in_seq} but received {seq}"
            )
            self._refuse_logon(sender_comp_id, text)
            return
        heartbeat = _int_field(message, tags.HEART_BT_INT)
        session.heartbeat_s = heartbeat if heartbeat and heartbeat > 0 else self._default_heartbeat_s
        session.transport = self._transport
        session.logged_on = True
        self.session = session
        gap = seq > session.next_in_seq
        if not gap:
            session.next_in_seq = seq + 1
        self._listener.on_logon(session)
        reply = [
            (tags.ENCRYPT_METHOD, b"0"),
            (tags.HEART_BT_INT, b"%d" % session.heartbeat_s),
        ]
        if reset:
            reply.append((tags.RESET_SEQ_NUM_FLAG, b"Y"))
        session.send(MsgType.LOGON, reply)
        if gap:
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

    def _session_for_logon(self, message: FixMessage, sender_comp_id: str) -> tuple[FixSession | None, str]:
        if message.get(tags.TARGET_COMP_ID) != self._venue_comp_id:
            return None, f"TargetCompID must be {self._registry.venue_comp_id}"
        session = self._registry.for_logon(sender_comp_id)
        if session is None:
            return None, f"unknown SenderCompID {sender_comp_id!r}"
        if session.connected:
            return None, f"session {sender_comp_id} is already logged on"
        return session, ""

    # -- logged on -------------------------------------------------------------------------

    def _on_session_message(self, session: FixSession, message: FixMessage) -> None:
        seq = _int_field(message, tags.MSG_SEQ_NUM)
        if seq is None:
            self.logout("MsgSeqNum(34) missing or not a number")
            return
        if (
            message.get(tags.SENDER_COMP_ID) != session.sender_comp_id_bytes
            or message.get(tags.TARGET_COMP_ID) != self._venue_comp_id
        ):
            self.logout("CompID problem: SenderCompID/TargetCompID do not match the session")
            return
        msg_type = message.msg_type
        if msg_type == MsgType.SEQUENCE_RESET and message.get(tags.GAP_FILL_FLAG) != b"Y":
            self._on_sequence_reset(session, message)
            return
        expected = session.next_in_seq
        if seq > expected:
            self._on_gap(session, message, seq)
            return
        if seq < expected:
            if message.get(tags.POSS_DUP_FLAG) != b"Y":
                self.logout(f"MsgSeqNum too low, expecting {expected} but received {seq}")
            return
        session.next_in_seq = seq + 1
        self._dispatch(session, message, seq)

    def _on_gap(self, session: FixSession, message: FixMessage, seq: int) -> None:
        msg_type = message.msg_type
        if msg_type == MsgType.RESEND_REQUEST:
            self._answer_resend(session, message)
        elif msg_type == MsgType.LOGOUT:
            self._on_logout(session)
            return
        if session.next_in_seq > self._resend_requested_until:
            self._request_resend(session, seq)

    def _request_resend(self, session: FixSession, seen_seq: int) -> None:
        self._resend_requested_until = seen_seq
        session.send(
            MsgType.RESEND_REQUEST,
            [(tags.BEGIN_SEQ_NO, b"%d" % session.next_in_seq), (tags.END_SEQ_NO, b"0")],
        )

    def _dispatch(self, session: FixSession, message: FixMessage, seq: int) -> None:
        msg_type = message.msg_type
        if msg_type == MsgType.HEARTBEAT or msg_type == MsgType.REJECT:
            return
        if msg_type == MsgType.TEST_REQUEST:
            test_request_id = message.get(tags.TEST_REQ_ID) or b""
            session.send(MsgType.HEARTBEAT, [(tags.TEST_REQ_ID, test_request_id)])
        elif msg_type == MsgType.RESEND_REQUEST:
            self._answer_resend(session, message)
        elif msg_type == MsgType.SEQUENCE_RESET:
            new_seq = _int_field(message, tags.NEW_SEQ_NO)
            if new_seq is not None and new_seq > session.next_in_seq:
                session.next_in_seq = new_seq
        elif msg_type == MsgType.LOGOUT:
            self._on_logout(session)
        elif msg_type == MsgType.LOGON:
            self.logout("Logon received on a session that is already logged on")
        else:
            self._dispatch_application(session, message, seq)

    def _dispatch_application(self, session: FixSession, message: FixMessage, seq: int) -> None:
        try:
            self._listener.on_app_message(session, message)
        except Exception:
            log.exception("error handling %r from %s", message.msg_type, session.sender_comp_id)
            send_session_reject(session, message, seq, reason=99, text="venue error handling message")

    def _answer_resend(self, session: FixSession, message: FixMessage) -> None:
        begin = _int_field(message, tags.BEGIN_SEQ_NO)
        end = _int_field(message, tags.END_SEQ_NO)
        if begin is None or end is None:
            session.send(MsgType.REJECT, [(tags.TEXT, b"ResendRequest needs BeginSeqNo and EndSeqNo")])
            return
        session.resend(begin, end)

    def _on_sequence_reset(self, session: FixSession, message: FixMessage) -> None:
        new_seq = _int_field(message, tags.NEW_SEQ_NO)
        if new_seq is None or new_seq < session.next_in_seq:
            self.logout(f"SequenceReset to {new_seq} below the expected {session.next_in_seq}")
            return
        session.next_in_seq = new_seq

    def _on_logout(self, session: FixSession) -> None:
        text = "logout requested by counterparty"
        self._logged_out = True
        self._listener.on_logout(session, text)
        session.send(MsgType.LOGOUT, [])
        self.close(text)

    def _session_name(self) -> str:
        return self.session.sender_comp_id if self.session else "not logged on"


def send_session_reject(
    session: FixSession, message: FixMessage, seq: int, *, reason: int, text: str
) -> None:
    """Session-level Reject(3) of an inbound message."""
    session.send(
        MsgType.REJECT,
        [
            (tags.REF_SEQ_NUM, b"%d" % seq),
            (tags.REF_MSG_TYPE, message.msg_type),
            (tags.SESSION_REJECT_REASON, b"%d" % reason),
            (tags.TEXT, text.encode()),
        ],
    )


def _int_field(message: FixMessage, tag: int) -> int | None:
    value = message.get(tag)
    if value is None or not value.isdigit():
        return None
    return int(value)


class _FixProtocol(asyncio.Protocol):
    """asyncio glue: feeds bytes and timer ticks to an :class:`AcceptorConnection`."""

    def __init__(self, server: FixServer) -> None:
        self._server = server
        self._timer: asyncio.TimerHandle | None = None
        self.connection: AcceptorConnection | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.connection = self._server.new_connection(transport)
        self._server.protocols.add(self)
        self._schedule(self.connection.check_timers())

    def data_received(self, data: bytes) -> None:
        connection = self.connection
        if connection is None:
            return
        logged_on_before = connection.session is not None
        connection.data_received(data)
        if not logged_on_before and connection.session is not None:
            self._reschedule()  # the logon set the heartbeat interval the timers run on

    def _reschedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self.connection is not None and not self.closed.done():
            self._schedule(self.connection.check_timers())

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._server.protocols.discard(self)
        try:
            if self.connection is not None:
                self.connection.connection_lost()
        finally:
            if not self.closed.done():
                self.closed.set_result(None)

    def _on_timer(self) -> None:
        if self.connection is not None and not self.closed.done():
            self._schedule(self.connection.check_timers())

    def _schedule(self, delay: float) -> None:
        self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)


class FixServer:
    """Listens for FIX connections and runs an :class:`AcceptorConnection` for each."""

    def __init__(
        self,
        registry: SessionRegistry,
        listener: SessionListener,
        *,
        default_heartbeat_s: int,
        logon_timeout_s: float,
        faults: FaultBoard | None = None,
    ) -> None:
        self._registry = registry
        self._listener = listener
        self._faults = faults
        self._default_heartbeat_s = default_heartbeat_s
        self._logon_timeout_s = logon_timeout_s
        self._server: asyncio.Server | None = None
        self.protocols: set[_FixProtocol] = set()

    def new_connection(self, transport: Transport) -> AcceptorConnection:
        return AcceptorConnection(
            transport,
            self._registry,
            self._listener,
            default_heartbeat_s=self._default_heartbeat_s,
            logon_timeout_s=self._logon_timeout_s,
            faults=self._faults,
        )

    async def start(self, host: str, port: int) -> int:
        """Start listening; return the bound port."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _FixProtocol(self), host, port)
        bound_port: int = self._server.sockets[0].getsockname()[1]
        return bound_port

    async def stop(self, *, text: str = "venue shutting down", timeout_s: float = 5.0) -> None:
        """Stop accepting, log every session out, and wait for the connections to close."""
        if self._server is not None:
            self._server.close()
        protocols = list(self.protocols)
        for protocol in protocols:
            if protocol.connection is not None:
                protocol.connection.logout(text)
        if protocols:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*(protocol.closed for protocol in protocols)), timeout_s
                )
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
