"""The data plane runs the API's operations in the data thread, between two data callbacks."""

from __future__ import annotations

import asyncio
import threading

import pytest

from gameday.proxy.dataplane import DataPlane

BUSY_CALLBACKS = 100
SUBMIT_AT = 10


async def test_operations_run_in_order_and_return_results_or_errors() -> None:
    plane = DataPlane(asyncio.get_running_loop())
    ran: list[int] = []

    def double(value: int) -> int:
        ran.append(value)
        return value * 2

    def fail() -> None:
        raise ValueError("bad operation")

    first, failing, last = plane.submit(double, 1), plane.submit(fail), plane.submit(double, 3)
    assert await asyncio.wrap_future(first) == 2
    with pytest.raises(ValueError, match="bad operation"):
        await asyncio.wrap_future(failing)
    assert await asyncio.wrap_future(last) == 6
    assert ran == [1, 3]


async def test_an_operation_from_another_thread_runs_in_the_loop_thread() -> None:
    plane = DataPlane(asyncio.get_running_loop())
    result = await asyncio.to_thread(lambda: plane.submit(threading.get_ident).result(timeout=5))
    assert result == threading.get_ident()


async def test_an_operation_runs_between_two_callbacks_of_a_busy_turn() -> None:
    loop = asyncio.get_running_loop()
    plane = DataPlane(loop)
    order: list[object] = []
    done = loop.create_future()

    def data_callback(index: int) -> None:  # as a read of a proxied socket does
        plane.poll()
        order.append(index)
        if index == SUBMIT_AT:
            plane.submit(order.append, "operation")
        if index == BUSY_CALLBACKS - 1:
            done.set_result(None)

    for index in range(BUSY_CALLBACKS):
        loop.call_soon(data_callback, index)
    await done
    assert order.index("operation") == SUBMIT_AT + 1
