"""Trade capture at the venue (mock_exchange.fix.trade_capture): what an AD asks, the AQ/AE it gets,
each message checked against the FIX 4.4 dictionary, and the OMS's codec reading the venue's bytes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import simplefix

from mock_exchange.config import SessionConfig, VenueConfig
from mock_exchange.fix.checks import RejectReason
from mock_exchange.fix.codec import FixMessage, FixStreamParser
from mock_exchange.fix.session import FixSession, SessionRegistry
from mock_exchange.fix.trade_capture import (
    RESULT_OTHER,
    RESULT_TYPE_NOT_SUPPORTED,
    TradeCaptureDesk,
    TradeRequestRefused,
    TradeWindow,
    WallClock,
    parse_timestamp_ns,
    trade_window,
)
from mock_exchange.fix.validation import Problem, fix44_validator
from mock_exchange.ledger import Ledger
from mock_exchange.model import Order, OrdType, Side, TimeInForce, attribute_instance
from trading_stack import fix_codec
from trading_stack.fix_codec import CompIds

NOON = datetime(2026, 3, 4, 12, 0, 0, tzinfo=UTC)
NOON_NS = int(NOON.timestamp()) * 1_000_000_000
CLOCK = WallClock(offset_ns=NOON_NS)  # monotonic 0 is noon: t_ns == nanoseconds after noon
HEADER = [(49, b"OMS-A"), (56, b"MOCKEX"), (34, b"2"), (52, b"20260304-12:00:00.000"), (50, b"oms-a")]


class Wire:
    """A transport keeping what the venue wrote."""

    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data

    def close(self) -> None: ...

    def messages(self) -> list[FixMessage]:
        return FixStreamParser().feed(self.data)


def _request(*fields: tuple[int, bytes]) -> FixMessage:
    return FixMessage([(35, b"AD"), *HEADER, *fields])


def _since(stamp: bytes) -> list[tuple[int, bytes]]:
    return [(568, b"tc-1"), (569, b"0"), (263, b"0"), (580, b"1"), (75, stamp[:8]), (60, stamp)]


def test_the_request_the_oms_builds_passes_the_fix44_dictionary() -> None:
    for until in (None, datetime(2026, 3, 4, 13, 0, tzinfo=UTC)):
        body = fix_codec.trade_capture_request_body(sub_id="oms-a", req_id="tc-1", since=NOON, until=until)
        data = fix_codec.encode("AD", 2, CompIds("OMS-A", "MOCKEX"), body)
        [message] = FixStreamParser().feed(data)
        assert fix44_validator().validate(message) is None
        window = trade_window(message)
        assert window.since_ns == NOON_NS
        assert window.until_ns == (None if until is None else NOON_NS + 3600 * 1_000_000_000)


def test_the_order_status_request_the_oms_builds_passes_too() -> None:
    body = fix_codec.order_status_body(sub_id="oms-a", req_id="os-1", cl_ord_id="oms-a-1-1", order_id="O1",
                                       symbol="BTC-USD", side=fix_codec.SIDE_FROM_CODE["1"])
    [message] = FixStreamParser().feed(fix_codec.encode("H", 2, CompIds("OMS-A", "MOCKEX"), body))
    assert fix44_validator().validate(message) is None
    expected = [b"O1", b"oms-a-1-1", b"os-1", b"BTC-USD", b"1"]
    assert [message.get(tag) for tag in (37, 11, 790, 55, 54)] == expected


def test_a_dates_group_instance_must_open_with_trade_date() -> None:
    message = _request((568, b"tc-1"), (569, b"0"), (580, b"1"), (60, b"20260304-12:00:00.000"))
    assert fix44_validator().validate(message) == Problem(RejectReason.TAG_OUT_OF_ORDER, 60)


def test_windows_since_range_whole_day_and_unbounded() -> None:
    assert trade_window(_request(*_since(b"20260304-12:00:00.250"))) == TradeWindow(NOON_NS + 250_000_000)
    day = _request((568, b"x"), (569, b"0"), (580, b"2"), (75, b"20260304"), (75, b"20260304"))
    midnight = NOON_NS - 12 * 3600 * 1_000_000_000
    assert trade_window(day) == TradeWindow(midnight, midnight + 86_400 * 1_000_000_000 - 1)
    assert trade_window(_request((568, b"x"), (569, b"0"))) == TradeWindow()
    assert parse_timestamp_ns(b"20260304-12:00:00.123456789") == NOON_NS + 123_456_789


@pytest.mark.parametrize(
    ("fields", "result"),
    [
        ([(568, b"x"), (569, b"1")], RESULT_TYPE_NOT_SUPPORTED),
        ([(568, b"x"), (569, b"0"), (263, b"1")], RESULT_OTHER),
        ([(568, b"x"), (569, b"0"), (580, b"3"), *[(75, b"20260304")] * 3], RESULT_OTHER),
        ([(568, b"x"), (569, b"0"), (580, b"2"), (75, b"20260305"), (75, b"20260304")], RESULT_OTHER),
    ],
)
def test_requests_the_venue_does_not_serve_are_refused(
    fields: list[tuple[int, bytes]], result: bytes
) -> None:
    with pytest.raises(TradeRequestRefused) as refused:
        trade_window(_request(*fields))
    assert refused.value.result == result
    assert refused.value.text


def _order(ledger: Ledger, sender: str, cl_ord_id: str, sub_id: str | None) -> Order:
    return ledger.record_order(Order(
        order_id=ledger.next_order_id(), cl_ord_id=cl_ord_id, sender_comp_id=sender, sender_sub_id=sub_id,
        instance=attribute_instance(sub_id, cl_ord_id), symbol="BTC-USD", side=Side.SELL,
        ord_type=OrdType.LIMIT, tif=TimeInForce.DAY, price=100.0, qty=10, received_ns=1))


@pytest.fixture
def desk(tmp_path: Path) -> tuple[TradeCaptureDesk, Ledger, FixSession]:
    firms = {"OMS-A": "alpha", "OMS-B": "alpha", "OMS-X": "other"}
    config = VenueConfig(fix_port=0, admin_port=0, ledger_path=tmp_path / "ledger.jsonl", sessions=tuple(
        SessionConfig(sender_comp_id=comp_id, firm=firm) for comp_id, firm in firms.items()))
    sessions = SessionRegistry(config)
    ledger = Ledger.open(config.ledger_path)
    primary = _order(ledger, "OMS-B", "oms-b-1-1", "oms-b")  # entered by the other session of the firm
    other_firm = _order(ledger, "OMS-X", "x-1-1", "x")
    ledger.record_fill(primary, qty=2, price=100.0, t_ns=1_000_000_000)
    ledger.record_fill(other_firm, qty=1, price=100.0, t_ns=2_000_000_000)
    ledger.record_fill(primary, qty=3, price=101.5, t_ns=3_000_000_500)
    session = sessions.get("OMS-A")
    assert session is not None
    session.transport, session.logged_on = Wire(), True
    return TradeCaptureDesk(ledger, sessions, CLOCK), ledger, session


def _answer(desk: TradeCaptureDesk, session: FixSession, fields: list[tuple[int, bytes]]) -> list[FixMessage]:
    desk.answer(session, _request(*fields))
    assert isinstance(session.transport, Wire)
    return session.transport.messages()


def test_every_execution_of_the_firm_since_the_time_asked(
    desk: tuple[TradeCaptureDesk, Ledger, FixSession],
) -> None:
    trade_desk, ledger, session = desk
    messages = _answer(trade_desk, session, _since(b"20260304-12:00:01.000"))
    assert [m.msg_type for m in messages] == [b"AQ", b"AE", b"AE"]
    for message in messages:
        assert fix44_validator().validate(message) is None, message
    ack = messages[0]
    assert [ack.get(tag) for tag in (568, 569, 263, 748, 749, 750)] == [b"tc-1", b"0", b"0", b"2", b"0", b"0"]
    expected = [
        [b"TR-E3", b"E3", b"N", b"2", b"100", b"20260304-12:00:01.000", b"N"],
        [b"TR-E5", b"E5", b"N", b"3", b"101.5", b"20260304-12:00:03.000", b"Y"],
    ]
    assert [[m.get(tag) for tag in (571, 17, 570, 32, 31, 60, 912)] for m in messages[1:]] == expected
    order = ledger.orders["O1"]
    for report in messages[1:]:
        assert [report.get(tag) for tag in (568, 748, 55, 75, 552, 54, 37, 11, 448, 452, 57)] == [
            b"tc-1", b"2", b"BTC-USD", b"20260304", b"1", b"2", order.order_id.encode(), b"oms-b-1-1",
            b"oms-b", b"11", b"oms-b"]
    later = _answer(trade_desk, session, _since(b"20260304-12:00:03.000"))
    assert [m.get(17) for m in later[3:]] == [None, b"E5"]  # the AQ, then E5 again: since is inclusive


def test_no_trade_is_an_ack_with_zero_reports_and_a_refusal_says_why(
    desk: tuple[TradeCaptureDesk, Ledger, FixSession],
) -> None:
    trade_desk, _ledger, session = desk
    [ack] = _answer(trade_desk, session, _since(b"20260304-12:00:04.000"))
    assert [ack.msg_type, ack.get(748), ack.get(749), ack.get(750)] == [b"AQ", b"0", b"0", b"0"]
    refused = _answer(trade_desk, session, [(568, b"tc-2"), (569, b"0"), (263, b"1")])[1]
    assert fix44_validator().validate(refused) is None
    assert [refused.get(tag) for tag in (568, 263, 748, 749, 750)] == [b"tc-2", b"1", None, b"99", b"2"]
    assert b"snapshot" in (refused.get(58) or b"")


def test_the_oms_codec_reads_what_the_venue_sends(desk: tuple[TradeCaptureDesk, Ledger, FixSession]) -> None:
    trade_desk, _ledger, session = desk
    _answer(trade_desk, session, _since(b"20260304-12:00:03.000"))
    assert isinstance(session.transport, Wire)
    parser = simplefix.FixParser()
    parser.append_buffer(session.transport.data)
    ack = fix_codec.parse_trade_capture_ack(parser.get_message())
    report = fix_codec.parse_trade_capture(parser.get_message())
    assert (ack.accepted, ack.total, ack.request_id) == (True, 1, "tc-1")
    assert report.exec_id == "E5"
    assert (report.order_id, report.cl_ord_id, report.side, report.last_qty, report.last_px) == (
        "O1", "oms-b-1-1", fix_codec.SIDE_FROM_CODE["2"], 3, 101.5)
    assert (report.owner, report.order_qty, report.total, report.last) == ("oms-b", 10, 1, True)
    assert report.transact_time == datetime(2026, 3, 4, 12, 0, 3, tzinfo=UTC)
