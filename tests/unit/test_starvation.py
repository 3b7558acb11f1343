"""Starvation: the summary (a pure function of hand-built histories), the samplers, the console line."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gameday.history import History, Op, OpKind, OpType
from gameday.recorder import record_message
from gameday.report import console_text
from gameday.scenario import load_scenario
from gameday.starvation import (
    SAMPLER_PROCESS,
    LoadMeter,
    StarvationSampler,
    percentile,
    summarize_starvation,
)
from gameday.verdict import grade_run
from tests.unit.history_builder import HistoryBuilder, failover_history

SCENARIO = load_scenario(Path(__file__).parents[2] / "scenarios" / "failover-primary-crash.yaml")


def _sampled(lags_ms: list[float], loads: list[float], *, cores: int = 2, stress: int = 0,
             builder: HistoryBuilder | None = None) -> HistoryBuilder:
    history = builder or HistoryBuilder()
    history.add(OpKind.PROBE, OpType.INFO, SAMPLER_PROCESS, "host",
                {"cores": cores, "stress": stress, "interval_s": 0.5}, at=0.0)
    for number, (lag, load) in enumerate(zip(lags_ms, loads, strict=True)):
        history.add(OpKind.PROBE, OpType.INFO, SAMPLER_PROCESS, "looplag", {"lag_ms": lag, "load_1m": load},
                    at=0.5 * (number + 1))
    return history


def _looplag(history: HistoryBuilder, instance: str, p99: float, peak: float, at: float) -> None:
    history.add(OpKind.SUT, OpType.INFO, "oms.looplag", "looplag",
                {"instance": instance, "p50_ms": 1.0, "p99_ms": p99, "max_ms": peak, "t_ns": 0}, at=at)


def test_a_quiet_machine_is_summarised_and_not_starved() -> None:
    history = _sampled([1.0] * 98 + [3.0, 40.0], [0.5] * 99 + [1.5])

    summary = summarize_starvation(history.ops)

    assert summary is not None
    assert summary.harness_loop_lag is not None
    assert (summary.harness_loop_lag.samples, summary.harness_loop_lag.p50_ms) == (100, 1.0)
    assert summary.harness_loop_lag.p99_ms == 3.0
    assert summary.harness_loop_lag.max_ms == 40.0
    assert summary.load_average is not None
    assert (summary.load_average.max_1m, summary.load_average.mean_1m) == (1.5, 0.51)
    assert summary.cores == 2
    assert not summary.starved
    assert summary.reasons == ()


def test_a_late_harness_loop_is_starved() -> None:
    summary = summarize_starvation(_sampled([2.0] * 90 + [250.0] * 10, [1.0] * 100, stress=2).ops)

    assert summary is not None
    assert summary.starved
    assert summary.stress == 2
    assert summary.reasons == ("harness loop lag p99 250 ms > 100 ms",)


def test_a_load_average_over_twice_the_cores_is_starved() -> None:
    summary = summarize_starvation(_sampled([1.0] * 10, [2.0] * 9 + [4.5], cores=2).ops)

    assert summary is not None
    assert summary.starved
    assert summary.reasons == ("load average 4.50 > 2 x 2 cores",)


def test_sut_loop_lag_is_the_worst_each_instance_published_and_malformed_samples_are_skipped() -> None:
    history = _sampled([1.0], [0.1])
    _looplag(history, "oms-primary", 5.0, 30.0, at=1.0)
    _looplag(history, "oms-primary", 12.0, 20.0, at=2.0)
    _looplag(history, "oms-dr", 2.0, 4.0, at=2.0)
    history.add(OpKind.SUT, OpType.INFO, "oms.looplag", "looplag", {"instance": "oms-dr"}, at=3.0)

    summary = summarize_starvation(history.ops)

    assert summary is not None
    assert [(s.instance, s.samples, s.p99_ms, s.max_ms) for s in summary.sut_loop_lag] == [
        ("oms-dr", 1, 2.0, 4.0), ("oms-primary", 2, 12.0, 30.0)]
    assert not summary.starved  # a slow SUT loop is the SUT's, not the machine's


def test_a_history_without_samples_has_no_starvation_section() -> None:
    assert summarize_starvation(failover_history().ops) is None


def test_percentile_is_nearest_rank() -> None:
    assert percentile([5.0, 1.0, 3.0], 0.5) == 3.0
    assert percentile([1.0, 2.0], 0.99) == 2.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)


def _graded_with(samples: Callable[[HistoryBuilder], object]) -> Any:
    history = failover_history()
    builder = HistoryBuilder()
    builder.ops = list(history.ops)
    samples(builder)
    return grade_run(SCENARIO, builder.ops)


def test_results_carry_the_section_and_the_console_prints_one_line_only_when_starved() -> None:
    quiet = _graded_with(lambda b: _sampled([1.0] * 10, [0.2] * 10, builder=b))
    starved = _graded_with(lambda b: _sampled([300.0] * 10, [5.0] * 10, stress=2, builder=b))

    assert quiet.starvation is not None
    assert not quiet.starvation.starved
    assert "STARVED" not in console_text(quiet, width=200)
    assert starved.verdict == quiet.verdict  # it informs; it never changes a verdict
    (line,) = [line for line in console_text(starved, width=400).splitlines() if "STARVED" in line]
    assert "harness loop lag p50 300 / p99 300 / max 300 ms" in line
    assert "load average max 5.00, mean 5.00 on 2 cores" in line
    assert "2 CPU burner(s)" in line
    assert '"starvation"' in starved.model_dump_json()


def test_a_sut_event_on_looplag_is_recorded_as_the_summary_reads_it() -> None:
    history = History()
    op = record_message(history, "oms.looplag",
                        b'{"instance": "oms-dr", "p50_ms": 1, "p99_ms": 9.5, "max_ms": 80, "t_ns": 5}')

    assert (op.kind, op.process, op.f) == (OpKind.SUT, "oms.looplag", "looplag")
    summary = summarize_starvation(history.ops)
    assert summary is not None
    assert [(s.instance, s.max_ms) for s in summary.sut_loop_lag] == [("oms-dr", 80.0)]


class _CountingHistory(History):
    """A history that says when it holds ``wanted`` harness samples."""

    def __init__(self) -> None:
        super().__init__()
        self.wanted = 0
        self.reached = asyncio.Event()

    def lags(self) -> list[float]:
        return [op.value["lag_ms"] for op in self.ops if op.f == "looplag"]

    def append(self, *args: Any, **kwargs: Any) -> Op:
        op = super().append(*args, **kwargs)
        if len(self.lags()) >= self.wanted:
            self.reached.set()
        return op

    async def wait_for_samples(self, wanted: int) -> None:
        self.wanted, self.reached = wanted, asyncio.Event()
        if len(self.lags()) < wanted:
            async with asyncio.timeout(10):
                await self.reached.wait()


async def test_the_sampler_records_how_late_a_blocked_loop_woke_up() -> None:
    history = _CountingHistory()

    async with StarvationSampler(history, interval_s=0.02, load=lambda: 0.25, cores=4, stress=1):
        await history.wait_for_samples(1)
        time.sleep(0.3)  # noqa: ASYNC251 - blocks the loop on purpose: the next wake-up is ~300 ms late
        await history.wait_for_samples(3)
    count = len(history.lags())
    await asyncio.sleep(0.05)

    assert len(history.lags()) == count  # stopped with the block
    assert max(history.lags()) >= 250
    summary = summarize_starvation(history.ops)
    assert summary is not None
    assert (summary.cores, summary.stress, summary.interval_s) == (4, 1, 0.02)
    assert summary.load_average is not None
    assert summary.load_average.max_1m == 0.25


async def test_the_load_meter_summarises_the_load_over_its_block() -> None:
    taken = 0
    three_taken = asyncio.Event()

    def load() -> float:
        nonlocal taken
        taken += 1
        if taken == 3:
            three_taken.set()
        return {1: 1.0, 2: 3.0}.get(taken, 2.0)

    async with LoadMeter(interval_s=0.01, load=load, cores=2) as meter:
        async with asyncio.timeout(10):
            await three_taken.wait()
    summary = meter.summary()

    assert summary is not None
    assert summary.max_1m == 3.0
    assert summary.cores == 2
    assert summary.samples >= 4  # the ones taken, and one as the block ended
    assert summary.mean_1m == 2.0  # (1 + 3 + 2 + ... + 2) / n
