"""FIX codec: messages we build parse back with the §2 tags; reports parse to typed values."""

from __future__ import annotations

import simplefix

from trading_stack import fix_codec
from trading_stack.book import Book
from trading_stack.fix_codec import CompIds
from trading_stack.models import ExecType, Order, OrderStatus, OrdType, Side, TimeInForce


def parse(data: bytes) -> simplefix.FixMessage:
    parser = simplefix.FixParser()
    parser.append_buffer(data)
    msg = parser.get_message()
    assert msg is not None
    return msg


def test_new_order_single_carries_dialect_fields() -> None:
    body = fix_codec.new_order_body(
        sub_id="oms-a",
        cl_ord_id="oms-a-17-1",
        symbol="BTC-USD",
        side=Side.SELL,
        qty=3,
        ord_type=OrdType.LIMIT,
        price=60000.5,
        tif=TimeInForce.IOC,
        transact_time=fix_codec.utc_timestamp(),
    )
    msg = parse(fix_codec.encode("D", 7, CompIds("OMS-A", "MOCKEX"), body))
    assert fix_codec.text(msg, 8) == "FIX.4.4"
    expected = {
        35: "D",
        49: "OMS-A",
        56: "MOCKEX",
        34: "7",
        50: "oms-a",
        11: "oms-a-17-1",
        55: "BTC-USD",
        54: "2",
        38: "3",
        40: "2",
        44: "60000.50",
        59: "3",
    }
    assert {tag: fix_codec.text(msg, tag) for tag in expected} == expected
    assert fix_codec.text(msg, 60)


def test_market_order_has_no_price_and_logon_resets_seqnums() -> None:
    body = fix_codec.new_order_body(
        sub_id="a",
        cl_ord_id="a-1-1",
        symbol="X",
        side=Side.BUY,
        qty=1,
        ord_type=OrdType.MARKET,
        price=None,
        tif=TimeInForce.DAY,
        transact_time="t",
    )
    assert 44 not in dict(body)
    assert dict(body)[40] == "1"
    logon = parse(fix_codec.encode("A", 1, CompIds("A", "B"), fix_codec.logon_body(5)))
    assert (fix_codec.text(logon, 98), fix_codec.text(logon, 108), fix_codec.text(logon, 141)) == (
        "0",
        "5",
        "Y",
    )


def test_execution_report_parses_trade_and_mass_status_fields() -> None:
    fields = [
        (37, "X1"),
        (11, "a-1-1"),
        (17, "E9"),
        (150, "F"),
        (39, "1"),
        (55, "ETH-USD"),
        (54, "1"),
        (38, "10"),
        (44, "3000.00"),
        (14, "4"),
        (151, "6"),
        (6, "3000.0"),
        (31, "3000.0"),
        (32, "4"),
        (57, "oms-a"),
    ]
    er = fix_codec.parse_execution_report(parse(fix_codec.encode("8", 2, CompIds("MOCKEX", "OMS-A"), fields)))
    assert er.exec_type is ExecType.TRADE
    assert er.ord_status is OrderStatus.PARTIALLY_FILLED
    assert (er.cum_qty, er.leaves_qty, er.last_qty, er.owner_sub_id, er.side) == (4, 6, 4, "oms-a", Side.BUY)
    status = fix_codec.parse_execution_report(
        parse(
            fix_codec.encode(
                "8", 3, CompIds("M", "O"), [(37, "NONE"), (150, "I"), (584, "r1"), (911, "0"), (912, "Y")]
            )
        )
    )
    assert status.exec_type is ExecType.ORDER_STATUS
    assert (status.mass_status_req_id, status.tot_num_reports, status.last_rpt_requested) == ("r1", 0, True)


def test_a_trade_report_parses_its_market_and_average_price() -> None:
    body = [(37, "X1"), (11, "a-1-1"), (17, "E9"), (150, "F"), (39, "1"), (55, "BTC-USD"), (54, "1"),
            (38, "5"), (14, "3"), (151, "2"), (6, "100.5"), (31, "101"), (32, "3"), (30, "ARCX")]
    ids = CompIds("MOCKEX", "OMS-A")
    report = fix_codec.parse_execution_report(parse(fix_codec.encode("8", 4, ids, body)))
    assert (report.last_mkt, report.avg_px, report.last_qty, report.cum_qty) == ("ARCX", 100.5, 3, 3)
    without = [(tag, value) for tag, value in body if tag not in (30, 6)]
    report = fix_codec.parse_execution_report(parse(fix_codec.encode("8", 5, ids, without)))
    assert (report.last_mkt, report.avg_px) == (None, None)


def test_an_expired_day_order_is_booked_as_canceled_and_leaves_the_open_orders() -> None:
    ids = CompIds("MOCKEX", "OMS-A")
    book = Book()
    book.add_order(
        Order(order_id="a-1-1", symbol="BTC-USD", side=Side.BUY, qty=5, status=OrderStatus.NEW, instance="a")
    )
    expired = [(37, "O1"), (11, "a-1-1"), (17, "E7"), (150, "C"), (39, "C"), (55, "BTC-USD"), (54, "1"),
               (38, "5"), (14, "2"), (151, "0"), (6, "100"), (58, "DAY order expired at the market close")]
    report = fix_codec.parse_execution_report(parse(fix_codec.encode("8", 6, ids, expired)))
    assert (report.exec_type, report.ord_status) == (ExecType.CANCELED, OrderStatus.CANCELED)
    update = book.apply_report(report, "a", 1)
    assert update.order is not None
    assert (update.order.status, update.order.cum_qty, update.fill) == (OrderStatus.CANCELED, 2, None)
    assert book.open_orders() == []
