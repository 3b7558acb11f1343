"""Numeric series of a run over time: order latency and rates, trade probes, lags and load.

Tolerant readers like the checkers: a value that is missing or not a number leaves its sample
out of the picture, never breaks the report.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict, deque
from collections.abc import Sequence

from gameday.checkers.trade_probes import Outcome, attempts
from gameday.history import Op, OpKind, OpType
from gameday.load.stats import LOAD_PROCESS, STATS_F
from gameday.report.data_model import Clock, OrderCounts, Rates, Series
from gameday.starvation import SAMPLER_PROCESS

__all__ = [
    "LATENCY_SERIES",
    "bucket_width",
    "fill_times",
    "harness_samples",
    "load_series",
    "order_latency",
    "per_instance",
    "probe_outcomes",
    "rates",
]

LATENCY_SERIES = ("ok", "failed", "unknown")
"""The order-latency series, by how the placement completed (``info``: its outcome is unknown)."""
_COMPLETION = {OpType.OK: "ok", OpType.FAIL: "failed", OpType.INFO: "unknown"}
TOP_ERRORS = 5


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _is_placement(op: Op) -> bool:
    return op.kind == OpKind.CLIENT and op.f == "place"


def _error_text(op: Op) -> str:
    error = op.value.get("error")
    return str(error) if error is not None else f"status {op.value.get('status', '?')}"


def order_latency(ops: Sequence[Op], clock: Clock) -> tuple[tuple[Series, ...], OrderCounts]:
    """Each placement's latency (ms) at its send time, by outcome; the counts beside it.

    A worker has one placement outstanding at a time, so a completion answers the oldest open
    invoke of its process.
    """
    pending: dict[str, deque[Op]] = defaultdict(deque)
    points: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in LATENCY_SERIES}
    errors: Counter[str] = Counter()
    placed = 0
    for op in ops:
        if not _is_placement(op):
            continue
        if op.type == OpType.INVOKE:
            pending[op.process].append(op)
            placed += 1
            continue
        if not pending[op.process]:
            continue
        invoke = pending[op.process].popleft()
        name = _COMPLETION[op.type]
        points[name][0].append(clock.s(invoke.t_ns))
        points[name][1].append(round((op.t_ns - invoke.t_ns) / 1e6, 3))
        if op.type != OpType.OK:
            errors[_error_text(op)] += 1
    latency = tuple(Series(name=name, t_s=tuple(t), values=tuple(v)) for name, (t, v) in points.items())
    counts = OrderCounts(placed=placed, ok=len(points["ok"][0]), failed=len(points["failed"][0]),
                         unknown=len(points["unknown"][0]),
                         in_flight=sum(len(queue) for queue in pending.values()),
                         top_errors=dict(errors.most_common(TOP_ERRORS)))
    return latency, counts


def fill_times(ops: Sequence[Op], clock: Clock) -> tuple[tuple[float, ...], str]:
    """When each fill happened: from the venue's ledger (the truth) when it was captured, else from
    the fills the OMS published; ``""`` as the source when neither was recorded."""
    snapshot = next((op for op in reversed(ops) if op.kind == OpKind.LEDGER and op.f == "snapshot"
                     and op.type == OpType.OK), None)
    fills = None if snapshot is None else snapshot.value.get("fills")
    if isinstance(fills, list):
        times = [_number(fill.get("t_ns")) for fill in fills if isinstance(fill, dict)]
        return tuple(sorted(clock.s(int(t)) for t in times if t is not None)), "venue ledger"
    seen: set[tuple[object, object]] = set()
    found = []
    for op in ops:
        if op.kind != OpKind.SUT or op.f != "fills":
            continue
        key = (op.value.get("instance"), op.value.get("exec_id"))
        if key[1] is not None and key in seen:
            continue
        seen.add(key)
        found.append(clock.s(op.t_ns))
    return (tuple(found), "OMS fill events") if found else ((), "")


def bucket_width(end_s: float) -> float:
    """Rate buckets: fine enough to see an outage of a second or two, coarse enough to be read."""
    for width, longest in ((0.5, 60.0), (1.0, 300.0), (5.0, 1800.0)):
        if end_s <= longest:
            return width
    return 30.0


def _per_second(times: Sequence[float], bucket_s: float, buckets: int) -> tuple[float, ...]:
    counts = [0] * buckets
    for t in times:
        slot = math.floor(t / bucket_s)
        if 0 <= slot < buckets:
            counts[slot] += 1
    return tuple(round(count / bucket_s, 3) for count in counts)


def rates(ops: Sequence[Op], clock: Clock, end_s: float, fills_t: Sequence[float]) -> Rates:
    """Orders sent, completed ok / failed / unknown, and fills, per second."""
    bucket_s = bucket_width(end_s)
    buckets = max(1, math.ceil(end_s / bucket_s))
    times: dict[str, list[float]] = {"sent": [], "ok": [], "failed": [], "unknown": []}
    for op in ops:
        if _is_placement(op):
            key = "sent" if op.type == OpType.INVOKE else _COMPLETION[op.type]
            times[key].append(clock.s(op.t_ns))
    per_second = {name: _per_second(found, bucket_s, buckets) for name, found in times.items()}
    if fills_t:
        per_second["fills"] = _per_second(fills_t, bucket_s, buckets)
    return Rates(bucket_s=bucket_s, starts_s=tuple(round(n * bucket_s, 3) for n in range(buckets)),
                 per_second=per_second)


def probe_outcomes(ops: Sequence[Op], clock: Clock) -> tuple[Series, ...]:
    """Trade probes by outcome row (latency in ms where recorded, else 0): ``ok on <instance>`` for
    each instance that took one, then ``failed``, ``unknown`` (timed out), ``venue halted``."""
    types = {op.index: op.type for op in ops if op.kind == OpKind.PROBE and op.f == "trade"}
    latency = {op.index: _number(op.value.get("latency_ms")) for op in ops
               if op.kind == OpKind.PROBE and op.f == "trade"}
    rows: dict[str, tuple[list[float], list[float]]] = {}
    for attempt in attempts(ops):
        if attempt.ok:
            row = f"ok on {attempt.instance or '?'}"
        elif attempt.outcome is Outcome.VENUE_HALTED:
            row = "venue halted"
        else:
            row = "unknown" if types.get(attempt.index) == OpType.INFO else "failed"
        t, values = rows.setdefault(row, ([], []))
        t.append(clock.s(attempt.t_ns))
        values.append(latency.get(attempt.index) or 0.0)
    rank = {"failed": 1, "unknown": 2, "venue halted": 3}
    order = sorted(rows, key=lambda row: (rank.get(row, 0), rows[row][0][0] if rank.get(row) is None else 0))
    return tuple(Series(name=row, t_s=tuple(rows[row][0]), values=tuple(rows[row][1])) for row in order)


def per_instance(ops: Sequence[Op], clock: Clock, f: str, field: str) -> tuple[Series, ...]:
    """A SUT metric (``sut`` ops of ``f``) per publishing instance, at the time it was recorded."""
    found: dict[str, tuple[list[float], list[float]]] = {}
    for op in ops:
        if op.kind != OpKind.SUT or op.f != f:
            continue
        value = _number(op.value.get(field))
        instance = op.value.get("instance")
        if value is None or not isinstance(instance, str):
            continue
        t, values = found.setdefault(instance, ([], []))
        t.append(clock.s(op.t_ns))
        values.append(value)
    return tuple(Series(name=name, t_s=tuple(t), values=tuple(v)) for name, (t, v) in sorted(found.items()))


def harness_samples(ops: Sequence[Op], clock: Clock) -> tuple[tuple[Series, ...], Series | None]:
    """The harness's own loop lag (ms) and the machine's 1-minute load average, as sampled."""
    lag_t, lag, load_t, load = [], [], [], []
    for op in ops:
        if op.kind != OpKind.PROBE or op.process != SAMPLER_PROCESS or op.f != "looplag":
            continue
        lag_ms, load_1m = _number(op.value.get("lag_ms")), _number(op.value.get("load_1m"))
        if lag_ms is not None:
            lag_t.append(clock.s(op.t_ns))
            lag.append(lag_ms)
        if load_1m is not None:
            load_t.append(clock.s(op.t_ns))
            load.append(round(load_1m, 3))
    harness = (Series(name="harness", t_s=tuple(lag_t), values=tuple(lag)),) if lag else ()
    machine = Series(name="load average (1 min)", t_s=tuple(load_t), values=tuple(load)) if load else None
    return harness, machine


LOAD_SERIES = ("requests/s", "failures/s", "p99 (ms)")


def load_series(ops: Sequence[Op], clock: Clock) -> tuple[Series, ...]:
    """Locust's requests and failures per second, and each second's p99 (seconds with a request),
    at the second's end; none without a load."""
    points: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in LOAD_SERIES}

    def add(name: str, t_s: float, value: float) -> None:
        points[name][0].append(t_s)
        points[name][1].append(value)

    for op in ops:
        if op.kind != OpKind.LOAD or op.process != LOAD_PROCESS or op.f != STATS_F:
            continue
        from_ns, p99 = op.value.get("from_ns"), _number(op.value.get("p99_ms"))
        if not isinstance(from_ns, int) or op.t_ns <= from_ns:
            continue
        span_s, t_s = max((op.t_ns - from_ns) / 1e9, 1.0), clock.s(op.t_ns)  # a short last second: no spike
        add("requests/s", t_s, round((_number(op.value.get("requests")) or 0.0) / span_s, 2))
        add("failures/s", t_s, round((_number(op.value.get("failures")) or 0.0) / span_s, 2))
        if p99 is not None:
            add("p99 (ms)", t_s, p99)
    if not points["requests/s"][0]:
        return ()
    return tuple(Series(name=name, t_s=tuple(t), values=tuple(values))
                 for name, (t, values) in points.items())
