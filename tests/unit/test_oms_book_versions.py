"""The book keeps positions the way its OMS build does (seed 000: 1.4.2 vs 1.4.3)."""

from __future__ import annotations

import dataclasses

import pytest

from trading_stack.book import Book, costed_positions_from_reports, fill_to_venue_fill, venue_positions
from trading_stack.deploy.versions import OmsVersion
from trading_stack.models import ExecType, ExecutionReport, Fill, OrderStatus, Side


def trade(
    exec_id: str, last: int, cum: int, venue: str | None, px: float = 100.0, qty: int = 5
) -> ExecutionReport:
    status = OrderStatus.FILLED if cum >= qty else OrderStatus.PARTIALLY_FILLED
    return ExecutionReport(
        exec_type=ExecType.TRADE,
        ord_status=status,
        cl_ord_id="a-1-1",
        orig_cl_ord_id=None,
        order_id="X1",
        exec_id=exec_id,
        symbol="BTC-USD",
        side=Side.BUY,
        qty=qty,
        price=None,
        cum_qty=cum,
        leaves_qty=qty - cum,
        last_qty=last,
        last_px=px,
        text=None,
        owner_sub_id="a",
        last_mkt=venue,
    )


def book_two_markets(version: OmsVersion) -> Book:
    book = Book(version)
    book.apply_report(trade("E1", 3, 3, "XNAS", px=100.0), "a", 1)
    book.apply_report(trade("E2", 2, 5, "ARCX", px=101.0), "a", 2)
    return book


def test_a_trade_report_becomes_a_fill_with_its_market_and_the_order_quantities() -> None:
    update = Book().apply_report(trade("E1", 3, 3, "XNAS"), "a", 7)
    assert update.fill is not None
    assert (update.fill.venue, update.fill.cum_qty, update.fill.order_qty, update.fill.t_ns) == (
        "XNAS",
        3,
        5,
        7,
    )
    assert update.booked is not None
    assert update.booked.position.qty == 3


def test_fills_at_two_markets_fork_the_builds_as_in_seed_000() -> None:
    old, new = book_two_markets(OmsVersion.V1_4_2), book_two_markets(OmsVersion.V1_4_3)
    assert old.positions == {"BTC-USD": 5}
    assert new.positions == {"BTC-USD": 8}  # 1.4.3 books the first market's 3 lots again
    assert old.position("BTC-USD").avg_price == pytest.approx(100.4)
    assert old.fill_count == new.fill_count == 2


def test_fills_at_one_market_agree_between_builds() -> None:
    books = [Book(version) for version in OmsVersion]
    for book in books:
        book.apply_report(trade("E1", 3, 3, None), "a", 1)
        book.apply_report(trade("E2", 2, 5, None, px=102.0), "a", 2)
    assert books[0].costed_positions() == books[1].costed_positions()


def test_a_fill_replayed_twice_is_booked_once() -> None:
    book = Book(OmsVersion.V1_4_3)
    update = book.apply_report(trade("E1", 3, 3, "XNAS"), "a", 1)
    assert update.fill is not None
    assert book.apply_fill(update.fill) is None
    assert (book.positions, book.fill_count) == ({"BTC-USD": 3}, 1)


def test_switching_build_keeps_the_positions_so_far() -> None:
    book = Book()
    book.apply_report(trade("E1", 3, 3, "XNAS"), "a", 1)
    book.use_version(OmsVersion.V1_4_3)
    book.apply_report(trade("E2", 2, 5, "ARCX", px=101.0), "a", 2)
    assert (book.version, book.positions) == (OmsVersion.V1_4_3, {"BTC-USD": 8})


def test_a_fill_without_order_quantities_books_its_own_lots_in_every_build() -> None:
    fill = Fill(
        exec_id="E1",
        order_id="o",
        exchange_order_id=None,
        symbol="ETH-USD",
        side=Side.SELL,
        qty=4,
        price=10.0,
        t_ns=0,
        instance="a",
    )
    venue_fill = fill_to_venue_fill(fill)
    assert (venue_fill.cum_qty, venue_fill.order_qty, venue_fill.venue) == (4, 4, "-")
    for version in OmsVersion:
        book = Book(version)
        book.apply_fill(fill)
        assert book.positions == {"ETH-USD": -4}


def test_lots_learnt_without_costs_keep_the_cost_and_realised_pnl_they_can() -> None:
    book = Book()
    book.apply_report(trade("E1", 5, 5, None, px=100.0), "a", 1)
    book.replace_positions({"BTC-USD": 7, "ETH-USD": -1})
    assert book.position("BTC-USD").avg_price == 100.0
    assert book.position("ETH-USD").avg_price == 0.0
    book.replace_positions({})
    assert book.positions == {}


def test_venue_positions_carry_the_average_price_of_each_order() -> None:
    def status(cl: str, side: Side, cum: int, avg: float | None) -> ExecutionReport:
        return ExecutionReport(
            exec_type=ExecType.ORDER_STATUS,
            ord_status=OrderStatus.PARTIALLY_FILLED,
            cl_ord_id=cl,
            orig_cl_ord_id=None,
            order_id=f"X{cl}",
            exec_id=None,
            symbol="BTC-USD",
            side=side,
            qty=10,
            price=None,
            cum_qty=cum,
            leaves_qty=10 - cum,
            last_qty=0,
            last_px=None,
            text=None,
            owner_sub_id=None,
            avg_px=avg,
        )

    positions = costed_positions_from_reports(
        [
            status("1", Side.BUY, 4, 100.0),
            status("2", Side.BUY, 4, 110.0),
            status("3", Side.SELL, 2, 120.0),
            status("4", Side.BUY, 2, None),
        ]
    )
    btc = positions["BTC-USD"]
    assert (btc.qty, btc.avg_price, btc.realized_pnl) == (8, 105.0, 30.0)


def test_a_fill_booked_while_the_mass_status_was_answered_is_not_lost() -> None:
    book = Book()
    book.apply_report(trade("E1", 3, 3, None), "a", 1)
    mark = book.booked
    late = book.apply_report(trade("E2", 2, 5, None), "a", 2).fill  # after the venue took its snapshot
    assert late is not None
    assert book.booked_since(mark) == [late]
    snapshot = ExecutionReport(
        exec_type=ExecType.ORDER_STATUS, ord_status=OrderStatus.PARTIALLY_FILLED, cl_ord_id="a-1-1",
        orig_cl_ord_id=None, order_id="X1", exec_id=None, symbol="BTC-USD", side=Side.BUY, qty=5, price=None,
        cum_qty=3, leaves_qty=2, last_qty=0, last_px=None, text=None, owner_sub_id="a", avg_px=100.0,
    )
    assert venue_positions([snapshot], book.booked_since(mark))["BTC-USD"].qty == 5
    counted = dataclasses.replace(snapshot, cum_qty=5)  # a snapshot that already counts it
    assert venue_positions([counted], book.booked_since(mark))["BTC-USD"].qty == 5
    assert venue_positions([counted], [])["BTC-USD"].qty == 5
    assert book.booked_since(book.booked) == []
