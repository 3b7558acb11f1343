"""A trip that outlives its process: stored, taken on by the instance that becomes active, followed
while active, and re-armed for every instance at once (seed 003's independent kill switch)."""

from __future__ import annotations

import asyncio

import pytest

from tests.unit.test_oms_breaker_runtime import FakeOms, buy
from trading_stack.breaker_runtime import BreakerRuntime
from trading_stack.deploy.breaker import Trip
from trading_stack.models import OrderStatus, Side
from trading_stack.trip_store import PersistedTrip


class SharedTable:
    """The database both instances see: the trips in force, keyed by (instance, t_ns)."""

    def __init__(self) -> None:
        self.in_force: dict[tuple[str, int], PersistedTrip] = {}
        self.reachable = True

    def check(self) -> None:
        if not self.reachable:
            raise OSError("connection refused")


class FakeKeeper:
    def __init__(self, table: SharedTable, instance: str) -> None:
        self.table, self.instance = table, instance
        self.generation = 0
        self._stored: tuple[str, int] | None = None

    def stored(self, trip: Trip, instance: str | None = None) -> bool:
        return self._stored == (instance or self.instance, trip.t_ns)

    def adopted(self, persisted: PersistedTrip) -> None:
        self._stored = persisted.key

    async def record(self, trip: Trip) -> bool:
        self.table.check()
        persisted = PersistedTrip(instance=self.instance, trip=trip)
        self.table.in_force[persisted.key] = persisted
        self._stored = persisted.key
        return True

    async def clear(self, operator: str) -> int:
        self.table.check()
        self.generation += 1
        cleared = len(self.table.in_force)
        self.table.in_force.clear()
        self._stored = None
        return cleared

    async def in_force(self) -> PersistedTrip | None:
        self.table.check()
        return min(self.table.in_force.values(), key=lambda p: p.trip.t_ns, default=None)


def instance(table: SharedTable | None, name: str) -> tuple[FakeOms, BreakerRuntime]:
    oms = FakeOms()
    keeper = None if table is None else FakeKeeper(table, name)
    return oms, BreakerRuntime(None, oms, oms.clock, oms.spawn, keeper)


async def test_a_kill_switch_is_stored_and_the_successor_halts_cancels_and_flattens_before_trading() -> None:
    table = SharedTable()
    _primary_oms, primary = instance(table, "oms-primary")
    killed = await primary.kill("alice")
    assert (killed.status, killed.body["persisted"]) == (200, True)
    dr_oms, dr = instance(table, "oms-dr")
    dr_oms.book("BTC-USD", 7, 100.0)  # what the primary had not flattened yet when it died
    resting = dr_oms.rest("ETH-USD")
    assert await dr.honour_persisted()
    refused = dr.refusal(buy(), 7)
    assert refused is not None
    assert refused.body == {"error": "halted", "reason": "kill-switch"}
    await asyncio.gather(*dr_oms.tasks)
    assert dr_oms.orders[resting.order_id].status is OrderStatus.CANCELED
    assert dr_oms.sent == [("BTC-USD", Side.SELL, 7)]
    tripped = dr_oms.alerts[0]
    assert tripped[0] == "BreakerTripped"
    assert (tripped[1]["operator"], tripped[1]["adopted_from"]) == ("alice", "oms-primary")


async def test_in_memory_a_successor_never_hears_of_the_trip() -> None:
    _oms, primary = instance(None, "oms-primary")
    killed = await primary.kill("alice")
    assert (killed.status, killed.body["persisted"]) == (200, False)
    _dr_oms, dr = instance(None, "oms-dr")
    assert await dr.honour_persisted()
    assert dr.refusal(buy(), 0) is None


async def test_a_rearm_anywhere_rearms_every_instance_that_follows_the_table() -> None:
    table = SharedTable()
    a_oms, a = instance(table, "a")
    b_oms, b = instance(table, "b")
    await a.kill("alice")
    await b.honour_persisted()
    assert b.refusal(buy(), 0) is not None
    rearmed = await b.rearm("bob")
    assert rearmed.status == 200
    assert b.refusal(buy(), 0) is None
    assert a.refusal(buy(), 0) is not None  # until it looks again
    await a.honour_persisted()
    assert a.refusal(buy(), 0) is None
    assert a_oms.alerts[-1] == ("BreakerRearmed", {"operator": "", "source": "database"})
    assert b_oms.alerts[-1] == ("BreakerRearmed", {"operator": "bob", "source": "api"})


async def test_a_rearm_clears_a_trip_this_instance_never_took_on_and_409_when_there_is_none() -> None:
    table = SharedTable()
    _a_oms, a = instance(table, "a")
    _b_oms, b = instance(table, "b")
    assert (await b.rearm("bob")).status == 409
    await a.kill("alice")
    assert (await b.rearm("bob")).status == 200  # b had not looked yet: the stored trip is cleared anyway
    assert table.in_force == {}


async def test_a_rearm_the_database_cannot_take_stays_tripped() -> None:
    table = SharedTable()
    _oms, a = instance(table, "a")
    await a.kill("alice")
    table.reachable = False
    refused = await a.rearm("bob")
    assert (refused.status, refused.body["error"]) == (503, "re-arm not persisted")
    assert a.refusal(buy(), 0) is not None


async def test_an_unreachable_database_is_alerted_and_a_later_look_takes_the_trip_on() -> None:
    table = SharedTable()
    _a_oms, a = instance(table, "a")
    await a.kill("alice")
    table.reachable = False
    b_oms, b = instance(table, "b")
    assert not await b.honour_persisted(quiet=True)  # the watch's look: no alert every second
    assert b_oms.alerts == []
    assert not await b.honour_persisted()
    assert [name for name, _ in b_oms.alerts] == ["BreakerStateUnknown"]
    assert b.refusal(buy(), 0) is None
    table.reachable = True
    assert await b.honour_persisted()
    assert b.refusal(buy(), 0) is not None


@pytest.mark.parametrize("trading", [True, False])
async def test_the_watch_follows_the_table_only_while_trading(trading: bool,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("trading_stack.breaker_runtime.TRIP_POLL_S", 0.001)
    table = SharedTable()
    _a_oms, a = instance(table, "a")
    _b_oms, b = instance(table, "b")
    await a.kill("alice")
    asked: list[bool] = []
    five_looks = asyncio.Event()

    def is_trading() -> bool:
        asked.append(trading)
        if len(asked) >= 5:  # each look is taken (or not) before the next is asked for
            five_looks.set()
        return trading

    watching = asyncio.create_task(b.watch(is_trading))
    try:
        async with asyncio.timeout(2.0):
            await five_looks.wait()
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
    assert (b.trip is not None) is trading
