"""Book: orders, fills and positions from execution reports and mass status."""

from __future__ import annotations

import pytest

from trading_stack.book import Book, positions_from_reports
from trading_stack.models import ExecType, ExecutionReport, Fill, Order, OrderStatus, Side


def report(
    cl: str,
    exec_type: ExecType,
    status: OrderStatus,
    *,
    side: Side = Side.BUY,
    symbol: str = "BTC-USD",
    qty: int = 10,
    cum: int = 0,
    last: int = 0,
    exec_id: str | None = None,
    orig: str | None = None,
    owner: str | None = "oms-a",
) -> ExecutionReport:
    return ExecutionReport(
        exec_type=exec_type,
        ord_status=status,
        cl_ord_id=cl,
        orig_cl_ord_id=orig,
        order_id=f"X-{orig or cl}",
        exec_id=exec_id,
        symbol=symbol,
        side=side,
        qty=qty,
        price=100.0,
        cum_qty=cum,
        leaves_qty=qty - cum,
        last_qty=last,
        last_px=100.0 if last else None,
        text=None,
        owner_sub_id=owner,
    )


def pending(cl: str, side: Side = Side.BUY, qty: int = 10) -> Order:
    return Order(
        order_id=cl, symbol="BTC-USD", side=side, qty=qty, status=OrderStatus.PENDING_NEW, instance="oms-a"
    )


def test_ack_then_partial_then_full_fill_builds_position() -> None:
    book = Book()
    book.add_order(pending("a-1-1"))
    ack = book.apply_report(report("a-1-1", ExecType.NEW, OrderStatus.NEW), "oms-a", 1)
    assert ack.order is not None
    assert ack.order.status is OrderStatus.NEW
    assert ack.order.exchange_order_id == "X-a-1-1"
    assert ack.fill is None

    part = book.apply_report(
        report("a-1-1", ExecType.TRADE, OrderStatus.PARTIALLY_FILLED, cum=4, last=4, exec_id="E1"), "oms-a", 2
    )
    assert part.fill is not None
    assert part.fill.qty == 4
    full = book.apply_report(
        report("a-1-1", ExecType.TRADE, OrderStatus.FILLED, cum=10, last=6, exec_id="E2"), "oms-a", 3
    )
    assert full.order is not None
    assert full.order.status is OrderStatus.FILLED
    assert book.positions == {"BTC-USD": 10}
    assert book.fill_count == 2
    assert book.open_orders() == []


def test_duplicate_exec_id_is_not_counted_twice() -> None:
    book = Book()
    book.add_order(pending("a-1-1", side=Side.SELL))
    trade = report(
        "a-1-1", ExecType.TRADE, OrderStatus.PARTIALLY_FILLED, side=Side.SELL, cum=3, last=3, exec_id="E"
    )
    assert book.apply_report(trade, "oms-a", 1).fill is not None
    assert book.apply_report(trade, "oms-a", 2).fill is None
    assert book.positions == {"BTC-USD": -3}
    assert book.fill_count == 1


def test_a_report_older_than_the_book_moves_no_order_back() -> None:
    book = Book()
    book.add_order(pending("a-1-1"))
    trade = report("a-1-1", ExecType.TRADE, OrderStatus.PARTIALLY_FILLED, cum=4, last=4, exec_id="E1")
    book.apply_report(trade, "oms-a", 1)
    late_ack = book.apply_report(report("a-1-1", ExecType.NEW, OrderStatus.NEW), "oms-a", 2)
    assert late_ack.order is not None
    assert (late_ack.order.status, late_ack.order.cum_qty, late_ack.order_changed) == (
        OrderStatus.PARTIALLY_FILLED, 4, False)

    canceled = report("a-1-2", ExecType.CANCELED, OrderStatus.CANCELED, orig="a-1-1", cum=4)
    book.apply_report(canceled, "oms-a", 3)
    late_ack = book.apply_report(report("a-1-1", ExecType.NEW, OrderStatus.NEW, cum=4), "oms-a", 4)
    assert late_ack.order is not None
    assert late_ack.order.status is OrderStatus.CANCELED  # a done order stays done


def test_cancel_report_resolves_the_original_order() -> None:
    book = Book()
    book.add_order(pending("a-1-1"))
    book.apply_report(report("a-1-1", ExecType.NEW, OrderStatus.NEW), "oms-a", 1)
    book.link_cancel("a-1-2", "a-1-1")
    update = book.apply_report(
        report("a-1-2", ExecType.CANCELED, OrderStatus.CANCELED, orig="a-1-1"), "oms-a", 2
    )
    assert update.order is not None
    assert update.order.order_id == "a-1-1"
    original = book.get("a-1-1")
    assert original is not None
    assert original.status is OrderStatus.CANCELED
    assert not book.knows("a-1-2")


def test_mirrored_fills_and_snapshot_replace_positions() -> None:
    book = Book()
    fill = Fill(
        exec_id="E1",
        order_id="p-1-1",
        exchange_order_id="X1",
        symbol="ETH-USD",
        side=Side.SELL,
        qty=5,
        price=3000.0,
        t_ns=1,
        instance="p",
    )
    assert book.apply_fill(fill)
    assert not book.apply_fill(fill)
    assert book.positions == {"ETH-USD": -5}
    book.replace_positions({"ETH-USD": -7, "BTC-USD": 0}, fill_count=9)
    assert book.positions == {"ETH-USD": -7}
    assert book.fill_count == 9


@pytest.mark.parametrize(
    ("reports", "expected"),
    [
        ([], {}),
        ([("BTC-USD", Side.BUY, 10), ("BTC-USD", Side.SELL, 4)], {"BTC-USD": 6}),
        (
            [("BTC-USD", Side.BUY, 3), ("ETH-USD", Side.SELL, 2), ("ETH-USD", Side.SELL, 0)],
            {"BTC-USD": 3, "ETH-USD": -2},
        ),
    ],
)
def test_positions_from_mass_status_use_cum_qty_times_side(
    reports: list[tuple[str, Side, int]], expected: dict[str, int]
) -> None:
    ers = [
        report(f"c-{i}", ExecType.ORDER_STATUS, OrderStatus.PARTIALLY_FILLED, symbol=s, side=side, cum=cum)
        for i, (s, side, cum) in enumerate(reports)
    ]
    assert {k: v for k, v in positions_from_reports(ers).items() if v} == expected
