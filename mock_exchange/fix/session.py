"""FIX session state: one :class:`FixSession` per counterparty SenderCompID.

A session outlives its TCP connections: it holds the sequence numbers and the store of
outbound application messages used to answer ResendRequest. The rules applied to inbound
messages live in :mod:`mock_exchange.fix.acceptor`; order logic lives elsewhere entirely.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import NamedTuple, Protocol

from mock_exchange.config import VenueConfig
from mock_exchange.fix import tags
from mock_exchange.fix.codec import Field, FixMessage, encode_fields, frame
from mock_exchange.fix.tags import ADMIN_MSG_TYPES, MsgType


class Transport(Protocol):
    """Where a connection writes bytes (an ``asyncio.Transport`` fits)."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class SessionListener(Protocol):
    """What the venue does on session events; each call happens before the venue answers."""

    def on_logon(self, session: FixSession) -> None: ...

    def on_logon_refused(self, sender_comp_id: str, text: str, *, peer: str = "") -> None:
        """A connection's first message logged nothing on (``peer``: its remote address)."""

    def on_logout(self, session: FixSession, text: str) -> None: ...

    def on_disconnect(self, session: FixSession, text: str) -> None: ...

    def on_app_message(self, session: FixSession, message: FixMessage) -> None: ...


class CoalescingTransport:
    """Holds writes while a batch of inbound messages is handled, then sends them as one.

    ``before_send`` runs before any byte goes out (the venue hands its pending ledger lines to
    the OS there: a report to another session can leave while some other connection's batch,
    which recorded it, is still running).
    """

    __slots__ = ("_before_send", "_held", "_holding", "_transport")

    def __init__(self, transport: Transport, before_send: Callable[[], None] = lambda: None) -> None:
        self._transport = transport
        self._before_send = before_send
        self._held: list[bytes] = []
        self._holding = False

    def hold(self) -> None:
        self._holding = True

    def release(self) -> None:
        self._holding = False
        if self._held:
            data = b"".join(self._held)
            self._held.clear()
            self._before_send()
            self._transport.write(data)

    def write(self, data: bytes) -> None:
        if self._holding:
            self._held.append(data)
        else:
            self._before_send()
            self._transport.write(data)

    def close(self) -> None:
        self.release()
        self._transport.close()


class _UtcTimestamps:
    """``YYYYMMDD-HH:MM:SS.sss`` UTC SendingTime values, formatting each millisecond once."""

    __slots__ = ("_millisecond", "_prefix", "_second", "_value")

    def __init__(self) -> None:
        self._second = self._millisecond = -1
        self._prefix = self._value = b""

    def now(self) -> bytes:
        millisecond = int(time.time() * 1000)
        if millisecond != self._millisecond:
            self._millisecond = millisecond
            second, fraction = divmod(millisecond, 1000)
            if second != self._second:
                self._second = second
                self._prefix = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(second)).encode()
            self._value = b"%s.%03d" % (self._prefix, fraction)
        return self._value


utc_timestamps = _UtcTimestamps()


class StoredMessage(NamedTuple):
    """An application message as sent, kept to answer ResendRequest."""

    msg_type: bytes
    body: bytes  # encoded fields after the standard header (TargetSubID included)
    sending_time: bytes


class FixSession:
    """Sequence numbers, outbound store and current connection of one counterparty."""

    def __init__(
        self,
        sender_comp_id: str,
        venue_comp_id: str,
        *,
        cancel_on_disconnect: bool,
        reset_on_logon: bool = False,
        firm: str = "",
    ) -> None:
        self.sender_comp_id = sender_comp_id
        self.sender_comp_id_bytes = sender_comp_id.encode()
        self.cancel_on_disconnect = cancel_on_disconnect
        self.reset_on_logon = reset_on_logon
        self.firm = firm
        self.next_in_seq = 1
        self.next_out_seq = 1
        self.heartbeat_s = 30
        self.logged_on = False
        self.transport: Transport | None = None
        self.last_sent = 0.0
        self._routing = b"49=%s\x0156=%s\x01" % (venue_comp_id.encode(), self.sender_comp_id_bytes)
        self._store: dict[int, StoredMessage] = {}

    @property
    def connected(self) -> bool:
        return self.transport is not None

    @property
    def in_seq(self) -> int:
        """Last inbound MsgSeqNum accepted."""
        return self.next_in_seq - 1

    @property
    def out_seq(self) -> int:
        """Last outbound MsgSeqNum sent."""
        return self.next_out_seq - 1

    def reset_sequence_numbers(self) -> None:
        self.next_in_seq = 1
        self.next_out_seq = 1
        self._store.clear()

    def send(
        self, msg_type: bytes, fields: list[Field], *, target_sub_id: str | None = None, route: bytes = b""
    ) -> bool:
        """Send a message with the next MsgSeqNum; ``False`` (not sent) when not logged on.

        ``route``: encoded routing header fields (DeliverTo*, OnBehalfOf*) to carry as well.
        """
        return self.send_body(msg_type, encode_fields(fields), target_sub_id=target_sub_id, route=route)

    def send_body(
        self, msg_type: bytes, body: bytes, *, target_sub_id: str | None = None, route: bytes = b""
    ) -> bool:
        """:meth:`send` of a body already encoded."""
        transport = self.transport
        if transport is None or not self.logged_on:
            return False
        seq = self.next_out_seq
        self.next_out_seq = seq + 1
        sending_time = utc_timestamps.now()
        if target_sub_id:
            body = b"57=%s\x01%s" % (target_sub_id.encode(), body)
        if route:
            body = route + body
        if msg_type not in ADMIN_MSG_TYPES:
            self._store[seq] = StoredMessage(msg_type, body, sending_time)
        self._write(transport, msg_type, seq, sending_time, body)
        return True

    def resend(self, begin: int, end: int) -> None:
        """Answer ResendRequest(begin, end): app messages with PossDup, admin ones as a GapFill."""
        transport = self.transport
        if transport is None or not self.logged_on:
            return
        last = self.next_out_seq - 1 if end == 0 else min(end, self.next_out_seq - 1)
        gap_start: int | None = None
        for seq in range(max(begin, 1), last + 1):
            stored = self._store.get(seq)
            if stored is None:
                if gap_start is None:
                    gap_start = seq
                continue
            if gap_start is not None:
                self._write_gap_fill(transport, gap_start, seq)
                gap_start = None
            body = b"43=Y\x01122=%s\x01%s" % (stored.sending_time, stored.body)
            self._write(transport, stored.msg_type, seq, utc_timestamps.now(), body)
        if gap_start is not None:
            self._write_gap_fill(transport, gap_start, last + 1)

    def _write_gap_fill(self, transport: Transport, seq: int, new_seq: int) -> None:
        now = utc_timestamps.now()
        body = b"43=Y\x01122=%s\x01123=Y\x0136=%d\x01" % (now, new_seq)
        self._write(transport, MsgType.SEQUENCE_RESET, seq, now, body)

    def _write(
        self, transport: Transport, msg_type: bytes, seq: int, sending_time: bytes, body: bytes
    ) -> None:
        transport.write(
            frame(b"35=%s\x01%s34=%d\x0152=%s\x01%s" % (msg_type, self._routing, seq, sending_time, body))
        )
        self.last_sent = time.monotonic()


def send_refusal(transport: Transport, *, venue_comp_id: str, sender_comp_id: str, text: str) -> None:
    """A Logout (seq 1) to a connection that never got a session, e.g. a refused Logon."""
    fields: list[Field] = [
        (tags.MSG_TYPE, MsgType.LOGOUT),
        (tags.SENDER_COMP_ID, venue_comp_id.encode()),
        (tags.TARGET_COMP_ID, sender_comp_id.encode()),
        (tags.MSG_SEQ_NUM, b"1"),
        (tags.SENDING_TIME, utc_timestamps.now()),
        (tags.TEXT, text.encode()),
    ]
    transport.write(frame(encode_fields(fields)))


MAX_ANY_SESSIONS = 1_000
"""sessions ``accept_any_session`` opens for SenderCompIDs not configured; beyond, logons are refused"""
MAX_ANY_COMP_ID_CHARS = 64


class SessionRegistry:
    """The sessions the venue accepts, by SenderCompID."""

    def __init__(self, config: VenueConfig) -> None:
        self.venue_comp_id = config.comp_id
        self._accept_any = config.accept_any_session
        self._sessions: dict[str, FixSession] = {
            session.sender_comp_id: FixSession(
                session.sender_comp_id,
                config.comp_id,
                cancel_on_disconnect=session.cancel_on_disconnect,
                reset_on_logon=session.reset_on_logon,
                firm=session.firm,
            )
            for session in config.sessions
        }
        self._opened = 0  # sessions accept_any_session opened

    def get(self, sender_comp_id: str) -> FixSession | None:
        return self._sessions.get(sender_comp_id)

    def for_logon(self, sender_comp_id: str) -> FixSession | None:
        """The session a Logon from ``sender_comp_id`` binds to, or ``None`` if not accepted."""
        session = self._sessions.get(sender_comp_id)
        if session is None and self._accept_any and self._may_open(sender_comp_id):
            session = FixSession(sender_comp_id, self.venue_comp_id, cancel_on_disconnect=False)
            self._sessions[sender_comp_id] = session
            self._opened += 1
        return session

    def _may_open(self, sender_comp_id: str) -> bool:
        """Whether ``accept_any_session`` opens a session for an unconfigured SenderCompID."""
        return 0 < len(sender_comp_id) <= MAX_ANY_COMP_ID_CHARS and self._opened < MAX_ANY_SESSIONS

    def logged_on(self) -> list[FixSession]:
        return [session for session in self._sessions.values() if session.logged_on]

    def __iter__(self) -> Iterator[FixSession]:
        return iter(list(self._sessions.values()))
