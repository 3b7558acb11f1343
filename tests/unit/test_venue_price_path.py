"""The price path a ``price_path`` fault sets: a line in time, the seeded walk paused under it."""

from __future__ import annotations

import math

import pytest

from mock_exchange.config import SymbolConfig
from mock_exchange.fault_board import FaultBoard
from mock_exchange.faults import FaultKind, FaultParamsError, Halt, PricePath, parse_fault
from mock_exchange.prices import LinearPath, PriceProcess


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _process(clock: FakeClock, volatility_bps: float = 5.0, start_price: float = 100.0) -> PriceProcess:
    config = SymbolConfig(symbol="X", start_price=start_price, volatility_bps=volatility_bps)
    return PriceProcess(config, seed=7, clock=clock)


def test_a_linear_path_holds_its_start_and_end_around_the_line() -> None:
    path = LinearPath(start_mid=100.0, end_mid=96.0, start_t=10.0, over_s=4.0)
    expected = {9.0: 100.0, 10.0: 100.0, 11.0: 99.0, 12.0: 98.0, 14.0: 96.0, 99.0: 96.0}
    assert {t: path.mid_at(t) for t in expected} == expected
    assert LinearPath(100.0, 104.0, 10.0, 0.0).mid_at(10.0) == 104.0


def test_a_process_follows_the_path_by_its_clock_and_pauses_its_walk() -> None:
    clock = FakeClock()
    process = _process(clock)
    process.follow(move_pct=-4, over_s=10)
    clock.now += 5
    assert process.step().bid == pytest.approx(97.99)
    assert process.mid == pytest.approx(98.0)
    clock.now += 60
    assert [process.step().ask for _ in range(3)] == pytest.approx([96.01] * 3)


def test_a_released_walk_resumes_its_seeded_steps_from_where_the_path_got() -> None:
    clock = FakeClock()
    followed, reference = _process(clock), _process(clock)
    for process in (followed, reference):
        for _ in range(20):
            process.step()
    followed.follow(move_pct=-4, over_s=10)
    clock.now += 5
    followed.step()
    followed.release()
    clock.now += 100  # a released path no longer moves the price
    reference.mid = followed.mid
    assert [followed.step() for _ in range(30)] == [reference.step() for _ in range(30)]


def test_following_again_starts_from_where_the_price_is_and_never_below_ten_ticks() -> None:
    clock = FakeClock()
    process = _process(clock, volatility_bps=0.0)
    process.follow(move_pct=-4, over_s=10)
    clock.now += 5
    assert process.follow(move_pct=10, over_s=0).start_mid == pytest.approx(98.0)
    assert process.step().ask == pytest.approx(107.81)
    assert process.follow(move_pct=-99.9999, over_s=0).end_mid == pytest.approx(0.1)


def test_a_price_path_fault_takes_no_session_and_finite_numbers() -> None:
    path = parse_fault(FaultKind.PRICE_PATH, {"symbol": "X", "move_pct": -4, "over_s": 3})
    assert path == PricePath(symbol="X", move_pct=-4.0, over_s=3.0)
    with pytest.raises(FaultParamsError, match=r"session: .*leave session out"):
        parse_fault(FaultKind.PRICE_PATH, {"symbol": "X", "move_pct": -4, "over_s": 3, "session": "A"})
    with pytest.raises(FaultParamsError, match="move_pct: Input should be a finite number"):
        parse_fault(FaultKind.PRICE_PATH, {"symbol": "X", "move_pct": math.inf, "over_s": 3})


def test_a_check_refuses_a_fault_before_it_is_armed_or_heard_of() -> None:
    board = FaultBoard()
    heard: list[FaultKind] = []
    board.subscribe(lambda kind, fault: heard.append(kind))
    board.add_check(lambda fault: "symbol: unknown" if isinstance(fault, PricePath) else None)
    with pytest.raises(FaultParamsError, match="symbol: unknown"):
        board.arm(PricePath(symbol="Y", move_pct=1, over_s=1))
    board.arm(Halt(symbols=("Y",)))
    assert [fault.kind for fault in board.active()] == [FaultKind.HALT]
    assert heard == [FaultKind.HALT]
