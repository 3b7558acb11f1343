"""Circuit breaker and kill switch: limits, the ordered trip actions, entries after a halt."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from trading_stack.config import Defect
from trading_stack.deploy.breaker import (
    BreakerActionKind,
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    TripReason,
)


def breaker(**limits: object) -> CircuitBreaker:
    return CircuitBreaker(BreakerConfig.model_validate(limits))


def test_a_loss_beyond_the_limit_trips_halt_then_cancel_then_flatten_at_the_trip_time() -> None:
    cb = breaker(max_loss=1000)
    assert cb.observe(1, -999.99) is None

    trip = cb.observe(2, -1000.0)

    assert trip is not None
    assert (trip.reason, trip.t_ns, trip.pnl) == (TripReason.LOSS_LIMIT, 2, -1000.0)
    assert [(a.kind, a.t_ns, a.step) for a in trip.actions] == [
        (BreakerActionKind.HALT_ENTRIES, 2, 0),
        (BreakerActionKind.CANCEL_ALL_OPEN_ORDERS, 2, 1),
        (BreakerActionKind.FLATTEN_POSITIONS, 2, 2),
    ]
    assert cb.state is BreakerState.TRIPPED


def test_drawdown_is_measured_from_the_peak_even_while_pnl_is_positive() -> None:
    cb = breaker(max_drawdown=500)
    assert cb.observe(1, 800.0) is None
    assert cb.observe(2, 301.0) is None

    trip = cb.observe(3, 300.0)

    assert trip is not None
    assert (trip.reason, trip.peak_pnl) == (TripReason.DRAWDOWN_LIMIT, 800.0)


def test_only_the_first_trip_counts() -> None:
    cb = breaker(max_loss=10)
    first = cb.observe(1, -20.0)

    assert cb.observe(2, -50.0) is None
    assert cb.kill(3, "alice") is None
    assert cb.trip == first


@pytest.mark.parametrize("pnl", [math.nan, math.inf, -math.inf])
def test_a_pnl_that_cannot_be_computed_trips_the_breaker(pnl: float) -> None:
    trip = breaker(max_loss=10).observe(5, pnl)

    assert trip is not None
    assert (trip.reason, trip.pnl) == (TripReason.PNL_UNAVAILABLE, None)


def test_the_kill_switch_trips_with_the_operator_named() -> None:
    cb = breaker(max_loss=10)

    trip = cb.kill(7, "alice")

    assert trip is not None
    assert (trip.reason, trip.operator, len(trip.actions)) == (TripReason.KILL_SWITCH, "alice", 3)


def test_defect_breaker_disabled_never_trips_on_limits_but_the_kill_switch_works() -> None:
    cb = breaker(max_loss=10, max_drawdown=5, defects=[Defect.BREAKER_DISABLED])

    assert cb.observe(1, -1e9) is None
    assert cb.observe(2, math.nan) is None
    assert cb.state is BreakerState.ARMED
    assert cb.kill(3, "bob") is not None


@pytest.mark.parametrize(
    ("position", "order", "admitted"),
    [(10, -10, True), (10, -3, True), (10, -11, False), (10, 1, False), (-5, 5, True), (-5, -1, False),
     (0, 1, False), (0, -1, False)],
)
def test_after_a_trip_only_orders_that_reduce_a_position_are_admitted(position: int, order: int,
                                                                      admitted: bool) -> None:
    cb = breaker(max_loss=10)
    assert cb.admits(position, order)
    cb.kill(1, "alice")

    assert cb.admits(position, order) is admitted


def test_rearming_restarts_the_peak_at_the_given_pnl() -> None:
    cb = breaker(max_drawdown=100)
    cb.observe(1, 500.0)
    cb.observe(2, 390.0)

    cb.rearm(390.0)

    assert cb.state is BreakerState.ARMED
    assert cb.observe(3, 291.0) is None
    assert cb.observe(4, 290.0) is not None


def test_rearming_at_an_unknown_pnl_is_refused() -> None:
    with pytest.raises(ValueError, match="finite PnL"):
        breaker(max_loss=1).rearm(math.nan)


def test_a_breaker_without_any_limit_is_refused() -> None:
    with pytest.raises(ValidationError, match="max_loss and/or max_drawdown"):
        BreakerConfig()


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ValidationError, match="greater than 0"):
        BreakerConfig(max_loss=-5)


def test_without_limits_only_the_kill_switch_trips_it() -> None:
    breaker = CircuitBreaker(None)
    assert breaker.observe(1, -1e12) is None
    assert breaker.observe(2, float("nan")) is None
    trip = breaker.kill(3, "alice")
    assert trip is not None
    assert (trip.reason, trip.operator) == (TripReason.KILL_SWITCH, "alice")
