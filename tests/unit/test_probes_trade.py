"""The trade probe turns over every workload symbol and records which one each attempt probed."""

import asyncio
import contextlib

from gameday.checkers.trade_probes import Outcome, attempts
from gameday.history import History, OpType
from gameday.probes import trade_probe
from gameday.workload import OrderRequest, Placement


class ScriptedDoor:
    """Answers like an OMS whose venue halted ETH-USD; sets ``done`` after ``wanted`` orders."""

    def __init__(self, wanted: int) -> None:
        self.requests: list[OrderRequest] = []
        self.cancelled: list[str] = []
        self.done = asyncio.Event()
        self._wanted = wanted

    async def place(self, request: OrderRequest) -> Placement:
        self.requests.append(request)
        if len(self.requests) >= self._wanted:
            self.done.set()
        if request.symbol == "ETH-USD":
            return Placement("fail", "oms-dr", {"status": 502, "error": "venue rejected the order",
                                                "text": "Trading halted: ETH-USD"}, ["oms-dr"])
        return Placement("ok", "oms-dr", {"order_id": f"p-{len(self.requests)}", "exchange_order_id": "O1"},
                         ["oms-dr"])

    async def cancel(self, instance: str, order_id: str) -> int:
        self.cancelled.append(order_id)
        return 200


async def test_the_probe_rotates_over_the_symbols_and_a_venue_halt_reads_as_the_venues_state() -> None:
    history = History()
    door = ScriptedDoor(wanted=4)

    task = asyncio.create_task(trade_probe(door, history, ("BTC-USD", "ETH-USD"), 0.001))  # type: ignore[arg-type]
    await asyncio.wait_for(door.done.wait(), timeout=10)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

    assert [request.symbol for request in door.requests[:4]] == ["BTC-USD", "ETH-USD", "BTC-USD", "ETH-USD"]
    assert door.requests[0].price == 30000.0  # half the reference price: never fills
    completions = [op for op in history.ops if op.type != OpType.INVOKE][:4]
    assert [op.value["symbol"] for op in completions] == ["BTC-USD", "ETH-USD", "BTC-USD", "ETH-USD"]
    assert [attempt.outcome for attempt in attempts(history.ops)][:4] == [
        Outcome.OK, Outcome.VENUE_HALTED, Outcome.OK, Outcome.VENUE_HALTED]
    assert door.cancelled[:2] == ["p-1", "p-3"]


async def test_a_single_symbol_is_probed_every_time() -> None:
    history = History()
    door = ScriptedDoor(wanted=2)

    task = asyncio.create_task(trade_probe(door, history, "BTC-USD", 0.001))  # type: ignore[arg-type]
    await asyncio.wait_for(door.done.wait(), timeout=10)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

    assert {request.symbol for request in door.requests} == {"BTC-USD"}


class SlowToCancelDoor(ScriptedDoor):
    """Its cancel answers only once the test has asked the probe to stop."""

    def __init__(self) -> None:
        super().__init__(wanted=1)
        self.stop = asyncio.Event()

    async def cancel(self, instance: str, order_id: str) -> int:
        await self.stop.wait()
        return await super().cancel(instance, order_id)


async def test_a_stopped_probe_cancels_the_order_it_placed_and_places_no_more() -> None:
    history = History()
    door = SlowToCancelDoor()

    task = asyncio.create_task(trade_probe(door, history, "BTC-USD", 0.001, door.stop))  # type: ignore[arg-type]
    await asyncio.wait_for(door.done.wait(), timeout=10)  # the order is placed; its cancel is under way
    door.stop.set()
    await asyncio.wait_for(task, timeout=10)

    assert [request.symbol for request in door.requests] == ["BTC-USD"]
    assert door.cancelled == ["p-1"]
