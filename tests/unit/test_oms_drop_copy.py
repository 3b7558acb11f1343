"""The drop copy read while active: executions of this book's orders whose reports never came."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest

from tests.unit.test_oms_trade_capture import NOW, Bed
from tests.unit.test_store import until
from trading_stack.config import Defect
from trading_stack.models import ExecType, ExecutionReport, OrderStatus, Side
from trading_stack.venue_sync import EXECUTIONS_RECOVERED

SWEEP_S = 0.02


async def _sweep_until(bed: Bed, done: Callable[[], bool], what: str, *, live: bool = True,
                       within_s: float = 5.0) -> None:
    """Run the sweeps until ``done()`` holds (AssertionError after ``within_s``), then stop them."""
    sweeps = asyncio.ensure_future(bed.sync.drop_copy_sweeps(lambda: live))
    try:
        await until(done, what, within_s)
    finally:
        sweeps.cancel()
        await asyncio.gather(sweeps, return_exceptions=True)


@pytest.mark.timeout(30)
async def test_a_dropped_report_of_an_own_order_is_booked_once_from_the_drop_copy() -> None:
    bed = Bed(drop_copy_interval_s=SWEEP_S)
    bed.adopt("oms-dr-1-1", "O1", instance="oms-dr")
    bed.venue.trade("E1", "O1", "oms-dr-1-1", 3, NOW - timedelta(seconds=1))

    await _sweep_until(bed, lambda: bed.venue.sent_types().count("AD") >= 3, "three windows")

    assert [fill.exec_id for fill in bed.sink.fills] == ["E1"]  # every window sees E1; booked once
    assert bed.book.positions == {"BTC-USD": 3}
    alerts = [(alert, detail["reason"]) for alert, detail in bed.alerts]
    assert alerts == [(EXECUTIONS_RECOVERED, "drop copy")]


@pytest.mark.timeout(30)
async def test_an_execution_of_an_order_another_instance_sent_is_not_this_books() -> None:
    bed = Bed(drop_copy_interval_s=SWEEP_S)
    bed.adopt("oms-dr-1-1", "O1", instance="oms-dr")
    bed.venue.trade("E7", "O9", "oms-blue-1-1", 2, NOW - timedelta(seconds=1))  # not in this book

    await _sweep_until(bed, lambda: bed.venue.sent_types().count("AD") >= 2, "two windows")
    assert bed.sink.fills == []

    bed.adopt("oms-blue-1-1", "O9")  # once the book holds the order, its execution is booked
    await _sweep_until(bed, lambda: bool(bed.sink.fills), "E7 booked")
    assert [fill.exec_id for fill in bed.sink.fills] == ["E7"]


@pytest.mark.timeout(30)
async def test_no_sweep_while_not_live_and_none_at_all_without_execution_recovery() -> None:
    idle = Bed(drop_copy_interval_s=SWEEP_S)
    idle.adopt("oms-dr-1-1", "O1", instance="oms-dr")
    idle.venue.trade("E1", "O1", "oms-dr-1-1", 3, NOW - timedelta(seconds=1))
    with pytest.raises(AssertionError, match="timed out waiting for a request"):
        await _sweep_until(idle, lambda: bool(idle.venue.sent), "a request", live=False,
                           within_s=25 * SWEEP_S)

    defective = Bed(drop_copy_interval_s=SWEEP_S, defects=(Defect.NO_EXECUTION_RECOVERY,))
    await asyncio.wait_for(defective.sync.drop_copy_sweeps(lambda: True), timeout=1)  # returns at once
    assert defective.venue.sent == []


def _live_trade(exec_id: str, last_qty: int, cum_qty: int, status: OrderStatus) -> ExecutionReport:
    """The live trade report of order ``oms-dr-1-1`` (venue O1, 10 lots)."""
    return ExecutionReport(exec_type=ExecType.TRADE, ord_status=status, cl_ord_id="oms-dr-1-1",
                           orig_cl_ord_id=None, order_id="O1", exec_id=exec_id, symbol="BTC-USD",
                           side=Side.BUY, qty=10, price=100.0, cum_qty=cum_qty, leaves_qty=10 - cum_qty,
                           last_qty=last_qty, last_px=100.0, text=None, owner_sub_id="oms-dr")


def _progress(bed: Bed, cl_ord_id: str) -> tuple[OrderStatus, int]:
    order = bed.book.get(cl_ord_id)
    assert order is not None
    return order.status, order.cum_qty


@pytest.mark.timeout(30)
async def test_a_recovered_fill_moves_the_orders_status_and_cum_qty_as_its_live_report_would() -> None:
    bed = Bed(drop_copy_interval_s=SWEEP_S)
    bed.adopt("oms-dr-1-1", "O1", instance="oms-dr")  # 10 lots, acked (new)
    bed.venue.trade("E1", "O1", "oms-dr-1-1", 3, NOW - timedelta(seconds=2))

    await _sweep_until(bed, lambda: bool(bed.sink.fills), "E1 booked")
    assert _progress(bed, "oms-dr-1-1") == (OrderStatus.PARTIALLY_FILLED, 3)

    bed.venue.trade("E2", "O1", "oms-dr-1-1", 7, NOW - timedelta(seconds=1))
    await _sweep_until(bed, lambda: len(bed.sink.fills) == 2, "E2 booked")
    assert _progress(bed, "oms-dr-1-1") == (OrderStatus.FILLED, 10)
    # the database and the stream hear of each change, as of a live report's
    assert [(order.status, order.cum_qty) for order in bed.sink.orders] == [
        (OrderStatus.PARTIALLY_FILLED, 3), (OrderStatus.FILLED, 10)]
    assert bed.book.positions == {"BTC-USD": 10}


@pytest.mark.timeout(30)
async def test_a_fill_heard_live_and_again_in_the_drop_copy_counts_once_and_no_late_report_moves_it_back(
        ) -> None:
    bed = Bed(drop_copy_interval_s=SWEEP_S)
    bed.adopt("oms-dr-1-1", "O1", instance="oms-dr")
    bed.gateway.on_execution_report(_live_trade("E1", 3, 3, OrderStatus.PARTIALLY_FILLED))
    bed.venue.trade("E1", "O1", "oms-dr-1-1", 3, NOW - timedelta(seconds=2))
    bed.venue.trade("E2", "O1", "oms-dr-1-1", 7, NOW - timedelta(seconds=1))  # its report was dropped

    await _sweep_until(bed, lambda: len(bed.sink.fills) == 2, "E2 recovered")
    await _sweep_until(bed, lambda: bed.venue.sent_types().count("AD") >= 4, "more windows")
    assert [fill.exec_id for fill in bed.sink.fills] == ["E1", "E2"]
    assert bed.book.positions == {"BTC-USD": 10}
    assert _progress(bed, "oms-dr-1-1") == (OrderStatus.FILLED, 10)

    # E1's report again and E2's arriving late: duplicates; neither takes the order back to partly filled
    bed.gateway.on_execution_report(_live_trade("E1", 3, 3, OrderStatus.PARTIALLY_FILLED))
    bed.gateway.on_execution_report(_live_trade("E2", 7, 10, OrderStatus.FILLED))
    assert _progress(bed, "oms-dr-1-1") == (OrderStatus.FILLED, 10)
    assert bed.book.fill_count == 2
    assert bed.book.positions == {"BTC-USD": 10}
