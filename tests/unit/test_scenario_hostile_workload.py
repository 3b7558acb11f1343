"""The order flow of a scenario at its limits (issue 15): made lazily, sent with bounded memory.

A 24 h workload at 10,000 orders/s is 864 million orders; before, the runner built them all as a
list in one loop (no Ctrl-C reached it), and every order was a task waiting for a slot.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time

import pytest

from gameday.history import History, OpKind
from gameday.workload import (
    Burst,
    FrontDoor,
    OrderRequest,
    Placement,
    ScheduledOrder,
    drive_workload,
    order_flow,
    workload_flow,
)

SYMBOLS = ("BTC-USD", "ETH-USD")
BURSTS = (Burst(5.0, 1.0, 100.0, 1.0), Burst(2.5, 4.0, 7.0, 0.5))


def _as_a_list(seed: int, orders_per_second: float, duration_s: float) -> list[ScheduledOrder]:
    """The flow as it was built before: every order of every flow, merged into one list."""
    flows = [order_flow(seed, orders_per_second, duration_s, SYMBOLS, 0.3)]
    flows += [order_flow(f"{seed}:burst{index}", burst.orders_per_second, burst.duration_s, SYMBOLS,
                         burst.market_order_ratio, start_s=burst.start_s)
              for index, burst in enumerate(BURSTS)]
    return list(heapq.merge(*flows, key=lambda order: order.offset_s))


def test_the_flow_is_the_same_orders_as_before_each_time_it_is_read() -> None:
    flow = workload_flow(5, 10, 20, SYMBOLS, 0.3, BURSTS)

    expected = _as_a_list(5, 10, 20)
    assert list(flow) == expected
    assert list(flow) == expected  # read again: the same orders
    assert len(flow) == len(expected) == 200 + 100 + 28
    assert list(workload_flow(6, 10, 20, SYMBOLS, 0.3, BURSTS)) != expected


@pytest.mark.timeout(60)
def test_a_day_at_10000_orders_a_second_is_never_built_as_a_list() -> None:
    started = time.perf_counter()

    flow = workload_flow(7, 10_000, 86_400, SYMBOLS, 0.3, [Burst(60.0, 86_000.0, 10_000.0, 1.0)])
    first = list(itertools.islice(flow, 5))

    assert time.perf_counter() - started < 1.0
    assert len(flow) == 864_000_000 + 860_000_000
    assert [order.offset_s for order in first] == pytest.approx([0.0, 0.0001, 0.0002, 0.0003, 0.0004])
    assert first == list(itertools.islice(order_flow(7, 10_000, 86_400, SYMBOLS, 0.3), 5))


class _StuckDoor(FrontDoor):
    """An OMS that answers nothing until released."""

    def __init__(self) -> None:
        self.released = asyncio.Event()
        self.placing = 0

    async def place(self, request: OrderRequest) -> Placement:
        self.placing += 1
        await self.released.wait()
        return Placement("ok", "oms-primary", {"id": "1"}, ["oms-primary"])


@pytest.mark.timeout(60)
async def test_orders_wait_for_a_free_slot_before_they_become_tasks() -> None:
    door, history = _StuckDoor(), History()
    flow = workload_flow(3, 100_000, 0.02, SYMBOLS, 0.3)  # 2,000 orders, all due at once
    before = len(asyncio.all_tasks())

    driving = asyncio.create_task(drive_workload(flow, door, history, started_ns=time.monotonic_ns(),
                                                 max_in_flight=8))
    await asyncio.sleep(0.3)

    assert door.placing == 8
    assert len(asyncio.all_tasks()) - before <= 8 + 1  # the 8 in flight and the driver itself
    door.released.set()
    await asyncio.wait_for(driving, timeout=30)
    client_ops = [op for op in history.ops if op.kind == OpKind.CLIENT]
    assert len(client_ops) == 2 * len(flow) == 4_000
    assert {op.process for op in client_ops} == {f"worker-{n}" for n in range(8)}


@pytest.mark.timeout(60)
async def test_a_huge_flow_stops_at_once_when_the_run_is_cancelled() -> None:
    door, history = _StuckDoor(), History()
    door.released.set()
    flow = workload_flow(3, 10_000, 86_400, SYMBOLS, 0.3)
    driving = asyncio.create_task(drive_workload(flow, door, history, started_ns=time.monotonic_ns()))
    await asyncio.sleep(0.2)

    driving.cancel()
    started = time.perf_counter()
    with pytest.raises(asyncio.CancelledError):
        await driving

    assert time.perf_counter() - started < 1.0
    assert 0 < len(history.ops) < 100_000
