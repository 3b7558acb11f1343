"""Fuzzed FIX traffic through the acceptor's session rules and the order entry: never a crash,
and whatever the venue answers is well-formed FIX."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_exchange.book import MatchingEngine
from mock_exchange.config import SessionConfig, VenueConfig
from mock_exchange.fix.codec import FixStreamParser, encode
from mock_exchange.fix.connection import AcceptorConnection
from mock_exchange.fix.session import SessionRegistry, utc_timestamps
from mock_exchange.ledger import Ledger
from mock_exchange.order_entry import FixOrderEntry, OrderEntryListener
from tests.unit.fix_doubles import RecordingTransport

MSG_TYPES = [b"0", b"1", b"2", b"3", b"4", b"5", b"A", b"D", b"F", b"G", b"H", b"q", b"AF", b"R", b"ZZ", b""]
TAGS = [7, 11, 16, 36, 37, 38, 40, 41, 43, 44, 54, 55, 59, 112, 122, 123, 141, 584, 585, 9999]
VALUES = st.one_of(
    st.sampled_from([b"Y", b"N", b"0", b"1", b"2", b"7", b"BTC-USD", b"100.5", b"-3", b"x", b""]),
    st.binary(max_size=12).filter(lambda value: b"\x01" not in value and b"=" not in value),
)


message_strategy = st.tuples(
    st.sampled_from(MSG_TYPES),
    st.integers(min_value=0, max_value=12),
    st.booleans(),
    st.lists(st.tuples(st.sampled_from(TAGS), VALUES), max_size=8),
)


def _message(msg_type: bytes, seq: int, good_ids: bool, fields: list[tuple[int, bytes]]) -> bytes:
    header = [
        (35, msg_type),
        (49, b"OMS-A" if good_ids else b"WT"),
        (56, b"MOCKEX"),
        (34, b"%d" % seq),
        (52, utc_timestamps.now()),
    ]
    return encode(header + fields)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(message_strategy, max_size=25), st.integers(min_value=1, max_value=400))
def test_fuzzed_messages_never_crash_the_acceptor(
    messages: list[tuple[bytes, int, bool, list[tuple[int, bytes]]]], chunk: int
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        config = VenueConfig(
            fix_port=0,
            admin_port=0,
            sessions=(SessionConfig(sender_comp_id="OMS-A"),),
            ledger_path=Path(directory) / "ledger.jsonl",
        )
        with Ledger.open(config.ledger_path) as ledger:
            registry = SessionRegistry(config)
            order_entry = FixOrderEntry(
                MatchingEngine(config, ledger), ledger, registry, route_orphan_reports_to_firm=True
            )
            transport = RecordingTransport()
            connection = AcceptorConnection(
                transport,
                registry,
                OrderEntryListener(order_entry),
                default_heartbeat_s=30,
                logon_timeout_s=10,
            )
            stream = _message(b"A", 1, True, [(98, b"0"), (108, b"30"), (141, b"Y")])
            stream += b"".join(_message(*message) for message in messages)
            for start in range(0, len(stream), chunk):
                connection.data_received(stream[start : start + chunk])
            connection.check_timers()
            connection.connection_lost()
            parser = FixStreamParser()
            answers = parser.feed(bytes(transport.written))
    assert answers, "the Logon is always answered"
    assert answers[0].msg_type == b"A"
    assert (parser.discarded_frames, parser.buffered) == (0, 0)
