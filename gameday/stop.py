"""Stop lines: a scenario's ``stop_when:`` watched on the history as it is recorded.

:class:`StopWatch` is a pure fold over ops: fed each op in order, it answers the first
:class:`Crossing` (or ``None``). It watches from the workload's start (the runner's ``workload``
phase, ``starts_ns``) until the runner starts healing; each line reads only ops that have arrived:

- ``no_active_for``: health probe samples (``probe-health``) showed no instance ``active`` for at
  least N s, from the first sample that showed none;
- ``client_failure_ratio``: of the workload's placements completed in the last ``over``, the share
  that did not come back ok (``fail`` or ``info``), once ``over`` has passed and ``min_orders`` did;
- ``rejects_per_s``: placements the OMS answered with a refusal (a ``fail`` with an HTTP status other
  than 503, "not active") a second, averaged over the last ``over``;
- ``metric``: a condition on the scraped metrics fired (:mod:`gameday.metrics.rules`: above or below its
  bound at every scrape for its ``for``), e.g. the book's exposure above a bound or the P&L below one.

:class:`StopTrigger` puts a watch on a live :class:`~gameday.history.History`: when a line is crossed
it records ``run``/``stop`` and sets :attr:`StopTrigger.stopped`; :func:`until_stopped` runs the
timeline until it ends or a line is crossed, whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from gameday.checkers.lease import ACTIVE, HEALTH_PROBE
from gameday.checkers.records import seconds
from gameday.history import RUN_PHASE_F, STOP_F, History, Op, OpKind, OpType, RunPhase
from gameday.metrics import Condition, ConditionWatch
from gameday.metrics.series import scrape_of
from gameday.scenario.stop_spec import FailureRatioLine, RatePerSecondLine, StopSpec

__all__ = ["STOP_F", "Crossing", "StopTrigger", "StopWatch", "first_crossing", "until_stopped"]

NOT_ACTIVE_STATUS = 503
NS = 1_000_000_000


@dataclass(frozen=True)
class Crossing:
    """A stop line crossed: which, the figure observed against its bound, and when."""

    condition: str
    figure: str
    observed: float
    bound: str
    t_ns: int
    after_s: float  # from the run's start (the origin of every report), else the workload's

    @property
    def reason(self) -> str:
        return f"stopped: {self.condition} ({self.figure}) at t+{self.after_s:.1f}s"

    def record(self) -> dict[str, Any]:
        return {"condition": self.condition, "figure": self.figure, "observed": self.observed,
                "bound": self.bound, "t_ns": self.t_ns, "after_s": self.after_s, "reason": self.reason}


class Line(Protocol):
    """One condition; ``feed`` sees every op from the workload's start, in order."""

    def feed(self, op: Op, started_ns: int) -> tuple[str, float, str] | None:
        """``(figure, observed, bound)`` when this op crosses the line."""


def _completed_place(op: Op) -> bool:
    return op.kind == OpKind.CLIENT and op.f == "place" and op.type != OpType.INVOKE


class NoActiveFor:
    def __init__(self, limit_ns: int) -> None:
        self._limit_ns = limit_ns
        self._none_since: int | None = None

    def feed(self, op: Op, started_ns: int) -> tuple[str, float, str] | None:
        if op.kind != OpKind.PROBE or op.process != HEALTH_PROBE or op.type != OpType.OK:
            return None
        instances = op.value.get("instances")
        if not isinstance(instances, dict):
            return None
        if any(isinstance(state, dict) and state.get("role") == ACTIVE for state in instances.values()):
            self._none_since = None
            return None
        if self._none_since is None:
            self._none_since = op.t_ns
        without = op.t_ns - self._none_since
        if without < self._limit_ns:
            return None
        return (f"{without / NS:.1f}s without an active instance", seconds(without),
                f"max {seconds(self._limit_ns):g}s")


class _Window:
    """Times of events in the last ``over_ns`` (bounded by the events in one window)."""

    def __init__(self, over_ns: int) -> None:
        self.over_ns = over_ns
        self._events: deque[tuple[int, bool]] = deque()

    def add(self, t_ns: int, flagged: bool) -> None:
        self._events.append((t_ns, flagged))
        while self._events and self._events[0][0] <= t_ns - self.over_ns:
            self._events.popleft()

    @property
    def count(self) -> int:
        return len(self._events)

    @property
    def flagged(self) -> int:
        return sum(1 for _, flagged in self._events if flagged)


class ClientFailureRatio:
    def __init__(self, line: FailureRatioLine) -> None:
        self._line = line
        self._window = _Window(line.over.ns)

    def feed(self, op: Op, started_ns: int) -> tuple[str, float, str] | None:
        if not _completed_place(op):
            return None
        self._window.add(op.t_ns, op.type != OpType.OK)
        count, failed = self._window.count, self._window.flagged
        if op.t_ns - started_ns < self._window.over_ns or count < self._line.min_orders:
            return None
        ratio = failed / count
        if ratio <= self._line.max:
            return None
        return (f"{failed} of {count} placements not ok in {self._line.over}", round(ratio, 4),
                f"max {self._line.max:g}")


def _rejected(op: Op) -> bool:
    status = op.value.get("status")
    return op.type == OpType.FAIL and isinstance(status, int) and status != NOT_ACTIVE_STATUS


class RejectsPerSecond:
    def __init__(self, line: RatePerSecondLine) -> None:
        self._line = line
        self._window = _Window(line.over.ns)

    def feed(self, op: Op, started_ns: int) -> tuple[str, float, str] | None:
        if not _completed_place(op) or not _rejected(op):
            return None
        self._window.add(op.t_ns, True)
        if op.t_ns - started_ns < self._window.over_ns:
            return None
        rate = self._window.count / self._line.over.seconds
        if rate <= self._line.max:
            return None
        return (f"{self._window.count} rejects in {self._line.over}", round(rate, 3),
                f"max {self._line.max:g}/s")


class MetricLine:
    def __init__(self, condition: Condition) -> None:
        self._watch = ConditionWatch(condition)

    def feed(self, op: Op, started_ns: int) -> tuple[str, float, str] | None:
        scrape = scrape_of(op)
        if scrape is None:
            return None
        self._watch.feed(scrape)
        value = self._watch.value
        if not self._watch.firing or value is None:
            return None
        condition = self._watch.condition
        bound = f"above {condition.above:g}" if condition.above is not None else f"below {condition.below:g}"
        return (f"{condition.query.describe()} = {value:g}", value, f"not {bound}")


def _lines(spec: StopSpec) -> list[tuple[str, Line]]:
    lines: list[tuple[str, Line]] = []
    if spec.no_active_for is not None:
        lines.append(("no_active_for", NoActiveFor(spec.no_active_for.ns)))
    if spec.client_failure_ratio is not None:
        lines.append(("client_failure_ratio", ClientFailureRatio(spec.client_failure_ratio)))
    if spec.rejects_per_s is not None:
        lines.append(("rejects_per_s", RejectsPerSecond(spec.rejects_per_s)))
    for line in spec.metric or ():
        lines.append(("metric", MetricLine(line.condition)))
    return lines


class StopWatch:
    """Fed every op of a run in order; :meth:`feed` answers the first crossing, then nothing more."""

    def __init__(self, spec: StopSpec) -> None:
        self._lines = _lines(spec)
        self._origin_ns: int | None = None
        self._started_ns: int | None = None
        self._healing = False
        self.crossing: Crossing | None = None

    def feed(self, op: Op) -> Crossing | None:
        if self.crossing is not None or self._healing:
            return None
        if op.kind == OpKind.RUN:
            self._run_op(op)
            return None
        started = self._started_ns
        if started is None or op.t_ns < started:
            return None
        for name, line in self._lines:
            crossed = line.feed(op, started)
            if crossed is not None:
                figure, observed, bound = crossed
                origin = started if self._origin_ns is None else self._origin_ns
                self.crossing = Crossing(name, figure, observed, bound, op.t_ns, seconds(op.t_ns - origin))
                return self.crossing
        return None

    def _run_op(self, op: Op) -> None:
        if op.f == "start" and self._origin_ns is None:
            self._origin_ns = op.t_ns
        elif op.f == RUN_PHASE_F and op.value.get("phase") == RunPhase.WORKLOAD:
            starts = op.value.get("starts_ns")
            self._started_ns = starts if isinstance(starts, int) else op.t_ns
        elif op.f == RUN_PHASE_F and op.value.get("phase") == RunPhase.HEAL:
            self._healing = True


def first_crossing(spec: StopSpec, ops: Iterable[Op]) -> Crossing | None:
    """The first stop line ``ops`` cross, read in order as the runner reads them live."""
    watch = StopWatch(spec)
    for op in ops:
        crossing = watch.feed(op)
        if crossing is not None:
            return crossing
    return None


class StopTrigger:
    """Watches a live history (the ops so far, then each as it is recorded); on a crossing, records
    ``run``/``stop`` and sets :attr:`stopped`."""

    def __init__(self, spec: StopSpec, history: History) -> None:
        self._watch = StopWatch(spec)
        self._history = history
        self._loop = asyncio.get_running_loop()
        self.stopped = asyncio.Event()
        for op in tuple(history.ops):
            self._watch.feed(op)
        self._unsubscribe = history.subscribe(self._observe)

    def close(self) -> Crossing | None:
        """Stop watching; the line crossed, if one was."""
        self._unsubscribe()
        return self._watch.crossing

    def _observe(self, op: Op) -> None:
        if self._watch.feed(op) is not None:  # recorded outside the observer call: no re-entry
            self._loop.call_soon_threadsafe(self._fire)

    def _fire(self) -> None:
        crossing = self._watch.crossing
        assert crossing is not None
        self._history.append(OpKind.RUN, OpType.INFO, "runner", STOP_F, crossing.record())
        self.stopped.set()


async def until_stopped(timeline: Coroutine[Any, Any, None], stopped: asyncio.Event) -> bool:
    """Run ``timeline`` until it ends (``False``) or ``stopped`` is set (``True``: it is cancelled)."""
    work = asyncio.ensure_future(timeline)
    waiter = asyncio.ensure_future(stopped.wait())
    try:
        done, _ = await asyncio.wait({work, waiter}, return_when=asyncio.FIRST_COMPLETED)
        stopped_first = work not in done
    finally:
        waiter.cancel()
        if not work.done():
            work.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await work  # the timeline's own failure, if any, is raised here
    return stopped_first
