"""The drop copy read while active: executions of this book's orders whose reports never came."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest

from tests.unit.test_oms_trade_capture import NOW, Bed
from tests.unit.test_store import until
from trading_stack.config import Defect
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
