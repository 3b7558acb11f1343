"""Was the run starved of CPU? Samplers that write the evidence into the history, and its summary.

A run on a busy machine can miss an RTO bound because the harness (or the OMS) was not scheduled,
not because the system under test is wrong. This module makes that visible; it never changes a
verdict.

- :class:`StarvationSampler` appends, every ``interval_s``, the harness's own event-loop lag
  (how late a scheduled wake-up actually ran) and the 1-minute load average as ``probe``/``info``
  ops (``process="starvation"``, ``f="looplag"``), after one ``f="host"`` op naming the cores and
  the stress level.
- SUT processes may publish their own loop lag on ``<prefix>.looplag``; the recorder stores those
  as ``sut`` ops with ``f="looplag"``.
- :func:`summarize_starvation` is a pure function of the history: percentiles, maxima, and
  whether the run counts as starved (:data:`HARNESS_LAG_P99_LIMIT_MS`, :data:`LOAD_PER_CORE_LIMIT`).
- :class:`LoadMeter` samples the load average alone, for a whole matrix.
"""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gameday.clock import sleep_until
from gameday.history import History, Op, OpKind, OpType

__all__ = [
    "HARNESS_LAG_P99_LIMIT_MS",
    "LOAD_PER_CORE_LIMIT",
    "SAMPLER_PROCESS",
    "LoadAverage",
    "LoadMeter",
    "LoopLag",
    "StarvationSampler",
    "StarvationSummary",
    "SutLoopLag",
    "load_average_of",
    "percentile",
    "summarize_starvation",
]

SAMPLER_PROCESS = "starvation"
HOST_F = "host"
LOOPLAG_F = "looplag"
HARNESS_LAG_P99_LIMIT_MS = 100.0
"""A run whose harness woke up later than this at the 99th percentile was starved."""
LOAD_PER_CORE_LIMIT = 2.0
"""A run whose 1-minute load average peaked above this many times the cores was starved."""

LoadReader = Callable[[], float]
_M = TypeVar("_M", bound=BaseModel)


def _load_1m() -> float:
    return os.getloadavg()[0]


def _cores() -> int:
    return os.cpu_count() or 1


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoopLag(_Frozen):
    """Scheduled-vs-actual wake-ups of one event loop, in milliseconds."""

    samples: int
    p50_ms: float
    p99_ms: float
    max_ms: float


class SutLoopLag(_Frozen):
    """What one SUT process said about its own loop (the worst of what it published)."""

    instance: str
    samples: int
    p99_ms: float
    max_ms: float


class LoadAverage(_Frozen):
    """The 1-minute load average over a span, next to the cores it loads."""

    cores: int
    samples: int
    max_1m: float
    mean_1m: float


class StarvationSummary(_Frozen):
    """``results.json``'s ``starvation`` section."""

    cores: int | None
    stress: int
    interval_s: float | None
    harness_loop_lag: LoopLag | None
    load_average: LoadAverage | None
    sut_loop_lag: tuple[SutLoopLag, ...] = ()
    starved: bool
    reasons: tuple[str, ...] = ()


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in [0, 1]) of a non-empty sequence."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def load_average_of(samples: Sequence[float], cores: int) -> LoadAverage | None:
    if not samples:
        return None
    return LoadAverage(cores=cores, samples=len(samples), max_1m=round(max(samples), 2),
                       mean_1m=round(statistics.fmean(samples), 2))


class _HostRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    cores: int = Field(ge=1)
    stress: int = Field(default=0, ge=0)
    interval_s: float | None = None


class _HarnessSample(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    lag_ms: float = Field(allow_inf_nan=False)
    load_1m: float | None = Field(default=None, allow_inf_nan=False)


class _SutSample(BaseModel):
    """``<prefix>.looplag``: ``{"instance", "p50_ms", "p99_ms", "max_ms", "t_ns"}``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    instance: str
    p99_ms: float = Field(allow_inf_nan=False)
    max_ms: float = Field(allow_inf_nan=False)


def _parsed(model: type[_M], ops: Iterable[Op]) -> list[_M]:
    """The ops' values that fit ``model``; a malformed sample is skipped (this only informs)."""
    parsed = []
    for op in ops:
        try:
            parsed.append(model.model_validate(op.value))
        except ValidationError:
            continue
    return parsed


def _ops(ops: Iterable[Op], kind: OpKind, f: str, process: str | None = None) -> list[Op]:
    return [op for op in ops if op.kind == kind and op.type == OpType.INFO and op.f == f
            and (process is None or op.process == process)]


def _loop_lag(lags_ms: Sequence[float]) -> LoopLag | None:
    if not lags_ms:
        return None
    return LoopLag(samples=len(lags_ms), p50_ms=round(percentile(lags_ms, 0.5), 3),
                   p99_ms=round(percentile(lags_ms, 0.99), 3), max_ms=round(max(lags_ms), 3))


def _sut_loop_lag(samples: Sequence[_SutSample]) -> tuple[SutLoopLag, ...]:
    by_instance: dict[str, list[_SutSample]] = {}
    for sample in samples:
        by_instance.setdefault(sample.instance, []).append(sample)
    return tuple(SutLoopLag(instance=instance, samples=len(published),
                            p99_ms=round(max(s.p99_ms for s in published), 3),
                            max_ms=round(max(s.max_ms for s in published), 3))
                 for instance, published in sorted(by_instance.items()))


def _reasons(harness: LoopLag | None, load: LoadAverage | None) -> tuple[str, ...]:
    reasons = []
    if harness is not None and harness.p99_ms > HARNESS_LAG_P99_LIMIT_MS:
        reasons.append(f"harness loop lag p99 {harness.p99_ms:.0f} ms > {HARNESS_LAG_P99_LIMIT_MS:.0f} ms")
    if load is not None and load.max_1m > LOAD_PER_CORE_LIMIT * load.cores:
        reasons.append(f"load average {load.max_1m:.2f} > {LOAD_PER_CORE_LIMIT:g} x {load.cores} cores")
    return tuple(reasons)


def summarize_starvation(ops: Sequence[Op]) -> StarvationSummary | None:
    """The starvation section of a run, or ``None`` when the history holds no sample at all."""
    hosts = _parsed(_HostRecord, _ops(ops, OpKind.PROBE, HOST_F, SAMPLER_PROCESS))
    harness = _parsed(_HarnessSample, _ops(ops, OpKind.PROBE, LOOPLAG_F, SAMPLER_PROCESS))
    sut = _parsed(_SutSample, _ops(ops, OpKind.SUT, LOOPLAG_F))
    if not (hosts or harness or sut):
        return None
    host = hosts[0] if hosts else None
    cores = host.cores if host else None
    harness_lag = _loop_lag([sample.lag_ms for sample in harness])
    loads = [sample.load_1m for sample in harness if sample.load_1m is not None]
    load = load_average_of(loads, cores) if cores is not None else None
    reasons = _reasons(harness_lag, load)
    return StarvationSummary(cores=cores, stress=host.stress if host else 0,
                             interval_s=host.interval_s if host else None, harness_loop_lag=harness_lag,
                             load_average=load, sut_loop_lag=_sut_loop_lag(sut), starved=bool(reasons),
                             reasons=reasons)


class StarvationSampler:
    """``async with StarvationSampler(history):`` samples loop lag and load until the block ends."""

    def __init__(self, history: History, interval_s: float = 0.5, *, stress: int = 0,
                 load: LoadReader = _load_1m, cores: int | None = None) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, got {interval_s}")
        self._history = history
        self._interval_ns = round(interval_s * 1e9)
        self._stress = stress
        self._load = load
        self._cores = cores or _cores()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        if self._task is not None:
            raise RuntimeError("a StarvationSampler runs once")
        self._history.append(OpKind.PROBE, OpType.INFO, SAMPLER_PROCESS, HOST_F, {
            "cores": self._cores, "stress": self._stress, "interval_s": self._interval_ns / 1e9})
        self._task = asyncio.create_task(self._sample(), name="starvation-sampler")
        return self

    async def _sample(self) -> None:
        scheduled = time.monotonic_ns()
        while True:
            scheduled += self._interval_ns
            await sleep_until(scheduled)
            woke = time.monotonic_ns()
            value: dict[str, Any] = {"lag_ms": round((woke - scheduled) / 1e6, 3), "load_1m": self._load()}
            self._history.append(OpKind.PROBE, OpType.INFO, SAMPLER_PROCESS, LOOPLAG_F, value, t_ns=woke)
            if woke - scheduled >= self._interval_ns:
                scheduled = woke  # one late sample, not a burst of catch-ups

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._task is not None:
            self._task.cancel()
            # gather, not suppress(CancelledError): a cancellation of the caller must still propagate
            await asyncio.gather(self._task, return_exceptions=True)


class LoadMeter:
    """``async with LoadMeter() as meter:`` … ``meter.summary()``: the load average over the block."""

    def __init__(self, interval_s: float = 1.0, *, load: LoadReader = _load_1m,
                 cores: int | None = None) -> None:
        self._interval_ns = round(interval_s * 1e9)
        self._load = load
        self._cores = cores or _cores()
        self._samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._sample(), name="load-meter")
        return self

    async def _sample(self) -> None:
        next_ns = time.monotonic_ns()
        while True:
            self._samples.append(self._load())
            next_ns = max(next_ns + self._interval_ns, time.monotonic_ns())
            await sleep_until(next_ns)

    def summary(self) -> LoadAverage | None:
        return load_average_of(self._samples, self._cores)

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._samples.append(self._load())  # the load as the span ends
