"""The breaker's trip in a real Postgres: stored by one instance, in force for another, re-armed for
all, and taken on by a runtime that was never told (seed 003's kill switch that survives the system)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gameday.stack.postgres import read_write_dsn
from tests.integration.pg_single import pg_template, postgres
from tests.unit.test_oms_breaker_runtime import FakeOms, buy
from trading_stack.breaker_runtime import BreakerRuntime
from trading_stack.deploy.breaker import CircuitBreaker
from trading_stack.pg_connect import PrimaryPolicy
from trading_stack.trip_keeper import TripKeeper
from trading_stack.trip_store import clear_trip, load_trip, save_trip

pytestmark = pytest.mark.integration
__all__ = ["pg_template"]

POLICY = PrimaryPolicy(deadline_s=5.0)


def runtime(dsn: str, instance: str) -> tuple[FakeOms, BreakerRuntime]:
    oms = FakeOms()
    keeper = TripKeeper(dsn, instance, oms.alert, oms.spawn)
    return oms, BreakerRuntime(None, oms, oms.clock, oms.spawn, keeper)


async def test_a_trip_is_in_force_until_rearmed_and_the_earliest_stands(tmp_path: Path,
                                                                        pg_template: Path) -> None:
    async with postgres(tmp_path, pg_template) as pg:
        dsn = read_write_dsn([pg.address], password=pg.password)
        assert await load_trip(dsn, POLICY) is None  # no table yet: nothing in force
        first = CircuitBreaker(None).kill(100, "alice")
        later = CircuitBreaker(None).kill(200, "bob")
        assert first is not None
        assert later is not None
        await save_trip(dsn, "oms-dr", later, 5.0)
        await save_trip(dsn, "oms-primary", first, 5.0)
        await save_trip(dsn, "oms-primary", first, 5.0)  # a retry of a stored trip changes nothing
        in_force = await load_trip(dsn, POLICY)
        assert in_force is not None
        assert (in_force.instance, in_force.trip) == ("oms-primary", first)
        assert await clear_trip(dsn, "carol", 5.0) == 2
        assert await load_trip(dsn, POLICY) is None
        assert await clear_trip(dsn, "carol", 5.0) == 0


async def test_a_successor_takes_the_trip_on_and_a_rearm_on_it_frees_the_first(tmp_path: Path,
                                                                                 pg_template: Path) -> None:
    async with postgres(tmp_path, pg_template) as pg:
        dsn = read_write_dsn([pg.address], password=pg.password)
        _primary_oms, primary = runtime(dsn, "oms-primary")
        killed = await primary.kill("alice")
        assert (killed.status, killed.body["persisted"]) == (200, True)
        dr_oms, dr = runtime(dsn, "oms-dr")
        assert await dr.honour_persisted()
        tripped: list[dict[str, Any]] = [detail for name, detail in dr_oms.alerts if name == "BreakerTripped"]
        assert [detail["adopted_from"] for detail in tripped] == ["oms-primary"]
        assert dr.refusal(buy(), 0) is not None
        assert (await dr.rearm("bob")).status == 200
        assert dr.refusal(buy(), 0) is None
        assert await primary.honour_persisted()  # its next look: re-armed elsewhere
        assert primary.refusal(buy(), 0) is None
