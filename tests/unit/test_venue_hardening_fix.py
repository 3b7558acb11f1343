"""The FIX acceptor against hostile input (issue 15): numbers too long to be numbers, queues
behind a sequence gap that would hold the venue's memory, quantities beyond what the venue reads."""

from __future__ import annotations

import gc
import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mock_exchange.book import MatchingEngine
from mock_exchange.config import SessionConfig, VenueConfig
from mock_exchange.fix.codec import FixMessage, FixStreamParser, encode, frame
from mock_exchange.fix.connection import AcceptorConnection
from mock_exchange.fix.session import SessionRegistry, utc_timestamps
from mock_exchange.ledger import Ledger
from mock_exchange.order_entry import FixOrderEntry, OrderEntryListener
from tests.unit.fix_doubles import RecordingTransport

HUGE = b"9" * 5_000  # more digits than Python turns into an int
TEST_REQUEST = b"35=1\x0149=OMS-A\x0156=MOCKEX\x0134=2\x0152=%s\x01112=t\x01%s"


class Acceptor:
    """One acceptor connection over a fresh ledger, logged on as OMS-A."""

    def __init__(self, directory: Path) -> None:
        config = VenueConfig(
            fix_port=0,
            admin_port=0,
            sessions=(SessionConfig(sender_comp_id="OMS-A"),),
            ledger_path=directory / "ledger.jsonl",
        )
        self.ledger = Ledger.open(config.ledger_path)
        registry = SessionRegistry(config)
        order_entry = FixOrderEntry(
            MatchingEngine(config, self.ledger), self.ledger, registry, route_orphan_reports_to_firm=True
        )
        self.transport = RecordingTransport()
        listener = OrderEntryListener(order_entry)
        self.connection = AcceptorConnection(
            self.transport, registry, listener, default_heartbeat_s=30, logon_timeout_s=10
        )
        self.feed(message(b"A", b"1", [(98, b"0"), (108, b"30"), (141, b"Y")]))

    def feed(self, data: bytes) -> None:
        self.connection.data_received(data)

    def answers(self) -> list[FixMessage]:
        return FixStreamParser().feed(bytes(self.transport.written))[1:]  # after the Logon reply


def message(msg_type: bytes, seq: bytes, fields: list[tuple[int, bytes]]) -> bytes:
    header = [(35, msg_type), (49, b"OMS-A"), (56, b"MOCKEX"), (34, seq), (52, utc_timestamps.now())]
    return encode(header + fields)


@pytest.fixture
def acceptor() -> Iterator[Acceptor]:
    with tempfile.TemporaryDirectory() as directory:
        acceptor = Acceptor(Path(directory))
        yield acceptor
        acceptor.ledger.close()


def _order(seq: bytes, qty: bytes, *, text: bytes = b"") -> bytes:
    now = utc_timestamps.now()
    fields = [(11, b"c-" + seq), (55, b"BTC-USD"), (54, b"1"), (38, qty), (40, b"1"), (60, now)]
    return message(b"D", seq, fields + ([(58, text)] if text else []))


@pytest.mark.parametrize(
    ("data", "rejected"),
    [  # built when the test runs: a SendingTime stamped at collection may be stale by then
        (lambda: message(b"0", HUGE, []), (b"34", b"6")),
        (lambda: message(b"2", b"2", [(7, HUGE), (16, b"0")]), (b"7", b"6")),
        (lambda: message(b"4", b"2", [(123, b"Y"), (36, HUGE)]), (b"36", b"6")),
        (lambda: message(b"AF", b"2", [(584, b"x"), (585, b"7"), (453, HUGE)]), (b"453", b"6")),
        (lambda: message(b"0", b"2", [(95, HUGE), (96, b"x")]), None),
        (lambda: message(b"0", b"2", [(int(b"9" * 18), b"x")]), None),
        (
            lambda: frame(TEST_REQUEST % (utc_timestamps.now(), b"%s=x\x01" % HUGE)),
            (b"1000000000000000000", b"0"),
        ),
        (lambda: frame(TEST_REQUEST % (utc_timestamps.now() + b"1" + HUGE, b"")), None),
    ],
)
def test_numbers_too_long_to_read_are_answered_not_raised(
    acceptor: Acceptor, data: Callable[[], bytes], rejected: tuple[bytes, bytes] | None
) -> None:
    """A Reject naming the tag (371) and why (373), where the message is read; else dropped."""
    acceptor.feed(data())  # raised ValueError (4300 digits) out of data_received before
    answers = acceptor.answers()
    if rejected is not None:
        assert [(answer.msg_type, answer.get(371), answer.get(373)) for answer in answers] == [
            (b"3", *rejected)
        ]
    acceptor.feed(message(b"1", b"9", [(112, b"still-here")]))  # the session still answers
    assert FixStreamParser().feed(bytes(acceptor.transport.written))[-1].msg_type in (b"0", b"2")


def test_a_quantity_beyond_what_the_venue_reads_is_rejected_as_out_of_range(acceptor: Acceptor) -> None:
    acceptor.feed(_order(b"2", b"100000000000000000000000"))  # 1e23 lots
    (reject,) = acceptor.answers()
    assert (reject.msg_type, reject.get(373), reject.get(371)) == (b"3", b"5", b"38")
    assert acceptor.ledger.orders == {}


def test_a_quantity_beyond_the_max_order_qty_is_an_execution_report_rejected(acceptor: Acceptor) -> None:
    acceptor.feed(_order(b"2", b"9007199254740991"))
    (report,) = acceptor.answers()
    assert (report.msg_type, report.get(150), report.get(39)) == (b"8", b"8", b"8")
    assert report.get(58) == b"OrderQty above the venue's maximum of 1000000000 lots"


def test_the_queue_behind_a_gap_is_bounded_in_bytes_and_let_go_with_the_connection(
    acceptor: Acceptor,
) -> None:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        text = b"x" * 50_000
        for seq in range(3, 1_003):  # 1,000 x 50 KB behind the gap at 2: 50 MB
            acceptor.feed(_order(b"%d" % seq, b"1", text=text))
            if acceptor.transport.closed:
                break
        held = tracemalloc.get_traced_memory()[0] - before
        acceptor.connection.connection_lost()
        released = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    logout = acceptor.answers()[-1]
    assert acceptor.transport.closed
    assert logout.msg_type == b"5"
    assert logout.get(58) == b"more than 33554432 bytes of messages behind a sequence gap"
    assert held < 40 * 1024 * 1024
    assert released < 2 * 1024 * 1024  # the connection object itself still exists here
