"""A garbled Logon ends the connection (FIX session test case 1S d), decided in the order the
frames arrived even when one read holds several: the parser says where among its messages it
dropped a garbled frame, and the acceptor refuses only a garbled frame that came before the Logon.
"""

from __future__ import annotations

from pathlib import Path

from mock_exchange.config import SessionConfig, VenueConfig
from mock_exchange.fix.codec import FixMessage, FixStreamParser, encode
from mock_exchange.fix.connection import GARBLED_LOGON, AcceptorConnection
from mock_exchange.fix.session import FixSession, SessionRegistry, utc_timestamps
from tests.unit.fix_doubles import RecordingTransport


class RecordingListener:
    def __init__(self) -> None:
        self.refused: list[str] = []
        self.logons: list[str] = []

    def on_logon(self, session: FixSession) -> None:
        self.logons.append(session.sender_comp_id)

    def on_logon_refused(self, sender_comp_id: str, text: str, *, peer: str = "") -> None:
        self.refused.append(text)

    def on_logout(self, session: FixSession, text: str) -> None: ...

    def on_disconnect(self, session: FixSession, text: str) -> None: ...

    def on_app_message(self, session: FixSession, message: FixMessage) -> None: ...


def _message(msg_type: bytes, seq: int, fields: list[tuple[int, bytes]]) -> bytes:
    header = [(35, msg_type), (49, b"OMS-A"), (56, b"MOCKEX"), (34, b"%d" % seq), (52, utc_timestamps.now())]
    return encode(header + fields)


def _logon() -> bytes:  # stamped when the test runs: SendingTime must be within 120 s of the venue's clock
    return _message(b"A", 1, [(98, b"0"), (108, b"30"), (141, b"Y")])


def _heartbeat() -> bytes:
    return _message(b"0", 2, [])


def _garbled() -> bytes:
    heartbeat = _heartbeat()
    return heartbeat[:-4] + b"%03d\x01" % ((int(heartbeat[-4:-1]) + 1) % 256)  # CheckSum off by one


def _connection() -> tuple[AcceptorConnection, RecordingTransport, RecordingListener]:
    config = VenueConfig(
        fix_port=0,
        admin_port=0,
        sessions=(SessionConfig(sender_comp_id="OMS-A"),),
        ledger_path=Path("unused.jsonl"),  # nothing here writes the ledger: the listener records
    )
    transport, listener = RecordingTransport(), RecordingListener()
    connection = AcceptorConnection(
        transport, SessionRegistry(config), listener, default_heartbeat_s=30, logon_timeout_s=10
    )
    return connection, transport, listener


def _answers(transport: RecordingTransport) -> list[bytes]:
    return [message.msg_type for message in FixStreamParser().feed(bytes(transport.written))]


def test_the_parser_tells_how_many_messages_came_before_the_first_garbled_frame() -> None:
    parser = FixStreamParser()
    assert len(parser.feed(_logon() + _garbled() + _heartbeat() + _garbled())) == 2
    assert parser.garbled_at == 1
    assert len(parser.feed(_heartbeat())) == 1
    assert parser.garbled_at is None, "a later read without garbage still names the old one"


def test_a_garbled_frame_before_the_logon_in_the_same_read_is_refused() -> None:
    connection, transport, listener = _connection()
    connection.data_received(_garbled() + _logon())
    assert (transport.closed, listener.refused, listener.logons, _answers(transport)) == (
        True,
        [GARBLED_LOGON],
        [],
        [],
    )


def test_a_garbled_frame_after_the_logon_in_the_same_read_is_only_dropped() -> None:
    connection, transport, listener = _connection()
    connection.data_received(_logon() + _garbled() + _message(b"1", 2, [(112, b"ping")]))
    assert (transport.closed, listener.refused, listener.logons) == (False, [], ["OMS-A"])
    assert _answers(transport) == [b"A", b"0"]


def test_a_garbled_logon_split_over_reads_is_refused_once_it_is_complete() -> None:
    connection, transport, listener = _connection()
    bad_length = _logon().replace(b"9=", b"9=1", 1)  # BodyLength ten times too long, then some
    connection.data_received(bad_length[:20])
    assert not transport.closed, "refused before the frame could be judged"
    connection.data_received(bad_length[20:] + _heartbeat())
    assert (transport.closed, listener.refused) == (True, [GARBLED_LOGON])
