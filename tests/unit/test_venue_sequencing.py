"""Inbound MsgSeqNum order (mock_exchange.fix.sequencing): a gap is asked for once, what waits
behind it is processed in order once it is filled, and too much waiting logs the session out."""

from __future__ import annotations

from mock_exchange.fix.codec import FixMessage, FixStreamParser
from mock_exchange.fix.sequencing import InboundSequence
from mock_exchange.fix.session import FixSession


class Recorder:
    def __init__(self) -> None:
        self.written = b""
        self.processed: list[int] = []
        self.overflows: list[str] = []

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None: ...

    def process(self, session: FixSession, message: FixMessage, seq: int) -> None:
        self.processed.append(seq)


def _setup(limit: int = 10) -> tuple[FixSession, InboundSequence, Recorder]:
    recorder = Recorder()
    session = FixSession("OMS-A", "MOCKEX", cancel_on_disconnect=False)
    session.transport, session.logged_on = recorder, True
    sequence = InboundSequence(
        recorder.process, overflow=recorder.overflows.append, closing=lambda: False, limit=limit
    )
    return session, sequence, recorder


def _message(seq: int) -> FixMessage:
    return FixMessage([(35, b"0"), (34, b"%d" % seq)])


def _resend_requests(recorder: Recorder) -> list[tuple[bytes | None, bytes | None]]:
    sent = FixStreamParser().feed(recorder.written)
    return [(message.get(7), message.get(16)) for message in sent if message.msg_type == b"2"]


def test_a_gap_is_asked_for_once_and_what_waits_is_processed_in_order_when_filled() -> None:
    session, sequence, recorder = _setup()
    for seq in (4, 3, 6):
        sequence.hold(session, seq, _message(seq))
    sequence.consume(session, 5)  # a number used up without a message
    assert _resend_requests(recorder) == [(b"1", b"0")]
    for seq in (1, 2):
        sequence.accept(session, _message(seq), seq)
    assert recorder.processed == [1, 2, 3, 4, 6]
    assert session.next_in_seq == 7


def test_a_new_gap_after_a_filled_one_is_asked_for_again() -> None:
    session, sequence, recorder = _setup()
    sequence.hold(session, 2, _message(2))
    sequence.accept(session, _message(1), 1)
    sequence.hold(session, 5, _message(5))
    assert _resend_requests(recorder) == [(b"1", b"0"), (b"3", b"0")]


def test_a_sequence_reset_jumps_to_a_message_that_waits() -> None:
    session, sequence, recorder = _setup()
    sequence.hold(session, 9, _message(9))
    sequence.jump_to(session, 9)
    assert (recorder.processed, session.next_in_seq) == ([9], 10)


def test_more_than_the_limit_behind_a_gap_overflows() -> None:
    session, sequence, recorder = _setup(limit=3)
    for seq in range(2, 7):
        sequence.hold(session, seq, _message(seq))
    assert recorder.overflows == ["more than 3 messages behind a sequence gap"] * 2


def test_a_restart_forgets_what_waits() -> None:
    session, sequence, recorder = _setup()
    sequence.hold(session, 3, _message(3))
    sequence.restart()
    session.next_in_seq = 1
    sequence.accept(session, _message(1), 1)
    sequence.accept(session, _message(2), 2)
    sequence.hold(session, 4, _message(4))
    assert recorder.processed == [1, 2]
    assert len(_resend_requests(recorder)) == 2, "the restart forgot the first request too"
