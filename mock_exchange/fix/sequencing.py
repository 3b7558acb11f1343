"""Inbound MsgSeqNum order of one connection (FIX 4.4 session layer).

The expected message is processed, then whatever waits right behind it. A message beyond a
gap waits (queued by its MsgSeqNum) and the gap is asked for once with a ResendRequest
(7 = the expected number, 16 = 0, "everything from there"); another is only sent for a gap
that opens after that one was filled. A number can be used up without a message to process
(a rejected message, a ResendRequest answered at once): it is queued as ``None``.

The queue is bounded in messages and in bytes (the values of the fields it holds): one more
message than either allows logs the session out at once (Logout with the reason, then the
disconnect), as a FIX engine does when it cannot keep what it would have to resend. The
connection's end (:meth:`InboundSequence.release`) lets go of whatever still waits.
"""

from __future__ import annotations

from collections.abc import Callable

from mock_exchange.fix import tags
from mock_exchange.fix.codec import FixMessage
from mock_exchange.fix.session import FixSession
from mock_exchange.fix.tags import MsgType

MAX_QUEUED = 100_000  # messages held behind a gap; beyond that the session is logged out
MAX_QUEUED_BYTES = 32 * 1024 * 1024  # their field values, in bytes: likewise
_FIELD_OVERHEAD = 64  # bytes a field costs besides its value (the tuple, the tag)

Process = Callable[[FixSession, FixMessage, int], None]


class InboundSequence:
    """The gap queue of one connection and what it asked to have resent."""

    __slots__ = (
        "_byte_limit",
        "_closing",
        "_limit",
        "_overflow",
        "_process",
        "_queued",
        "_queued_bytes",
        "_resend_requested_until",
    )

    def __init__(
        self,
        process: Process,
        *,
        overflow: Callable[[str], None],
        closing: Callable[[], bool],
        limit: int = MAX_QUEUED,
        byte_limit: int = MAX_QUEUED_BYTES,
    ) -> None:
        """``process``: handle a message in order; ``overflow``: log out (more than ``limit``
        messages or ``byte_limit`` bytes queued); ``closing``: whether the connection is closing
        (nothing more is processed then)."""
        self._limit = limit
        self._byte_limit = byte_limit
        self._process = process
        self._overflow = overflow
        self._closing = closing
        self._queued: dict[int, FixMessage | None] = {}  # seq -> message (None: already handled)
        self._queued_bytes = 0
        self._resend_requested_until = 0

    def accept(self, session: FixSession, message: FixMessage | None, seq: int) -> None:
        """Process the expected message, then whatever the queue holds right behind it."""
        session.next_in_seq = seq + 1
        if message is not None:
            self._process(session, message, seq)
        queued_messages = self._queued
        while queued_messages and not self._closing():
            for stale in [queued for queued in queued_messages if queued < session.next_in_seq]:
                self._pop(stale)
            if session.next_in_seq not in queued_messages:
                return
            seq = session.next_in_seq
            queued = self._pop(seq)
            session.next_in_seq = seq + 1
            if queued is not None:
                self._process(session, queued, seq)

    def consume(self, session: FixSession, seq: int | None) -> None:
        """Count ``seq`` as received although its message is not acted on."""
        if seq is None:
            return
        if seq == session.next_in_seq:
            self.accept(session, None, seq)
        elif seq > session.next_in_seq:
            self.hold(session, seq, None)

    def hold(self, session: FixSession, seq: int, message: FixMessage | None) -> None:
        """Keep a message from beyond a gap; ask for the gap to be resent once."""
        if len(self._queued) >= self._limit:
            self._overflow(f"more than {self._limit} messages behind a sequence gap")
            return
        size = _size(message)
        replaced = self._queued.get(seq)
        if self._queued_bytes - _size(replaced) + size > self._byte_limit:
            self._overflow(f"more than {self._byte_limit} bytes of messages behind a sequence gap")
            return
        self._queued_bytes += size - _size(replaced)
        self._queued[seq] = message
        if session.next_in_seq > self._resend_requested_until:
            self._resend_requested_until = seq
            session.send(
                MsgType.RESEND_REQUEST,
                [(tags.BEGIN_SEQ_NO, b"%d" % session.next_in_seq), (tags.END_SEQ_NO, b"0")],
            )

    def jump_to(self, session: FixSession, new_seq: int) -> None:
        """SequenceReset-Reset: ``new_seq`` is expected next (and processed if it waits already)."""
        session.next_in_seq = new_seq
        if new_seq in self._queued:
            self.accept(session, self._pop(new_seq), new_seq)

    def restart(self) -> None:
        """Both sides start again at 1 (a Logon with ResetSeqNumFlag): nothing waits any more."""
        self.release()
        self._resend_requested_until = 0

    def release(self) -> None:
        """Let go of everything that waits (the connection ended: nothing will be processed)."""
        self._queued = {}
        self._queued_bytes = 0

    def _pop(self, seq: int) -> FixMessage | None:
        message = self._queued.pop(seq)
        self._queued_bytes -= _size(message)
        return message


def _size(message: FixMessage | None) -> int:
    """The bytes a queued message is counted for: its field values, plus a little per field."""
    if message is None:
        return 0
    return sum(len(value) + _FIELD_OVERHEAD for _, value in message.fields)
