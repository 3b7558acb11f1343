"""The live console: what a run is doing while it runs, read from the history it records.

:class:`LiveConsole` observes a run's :class:`~gameday.history.History` and prints one line per
thing worth seeing, offset from the run's start (``t+12.3s``, the origin of every report): each
fault applied or healed, each role an instance announces, each decision change of a failover
daemon, each change of the trade probe's outcome, the runner's phases (the workload, the healing,
the settle wait and what it waits for), a stop line crossed and, once a second of the workload, the
orders that came back ok / failed in that second with the workload's elapsed and remaining seconds;
a scenario's locust load starting and stopping. On a FAIL or UNKNOWN, :meth:`LiveConsole.finished`
prints each instance's last role change and its log.

Every line is made by a pure function of ops (:func:`describe`, :func:`orders_line`,
:func:`~gameday.report.where_to_look.where_to_look`, ...); the console keeps only what lines need
across ops (the origin, the workload's window, the second being counted). User text (names, ids,
error strings) is printed as :class:`rich.text.Text`, never read as console markup.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from gameday.history import RUN_PHASE_F, Op, OpKind, OpType, RunPhase
from gameday.report.data_model import Clock
from gameday.report.where_to_look import (
    last_role_changes,
    offset,
    silent_since,
    stack_logs,
    sut_time,
    where_to_look,
)
from gameday.stop import STOP_F
from gameday.verdict import RunResult, Verdict

__all__ = ["LiveConsole", "Orders", "describe", "orders_line", "probe_line"]

NS = 1_000_000_000
INDENT = "  "
HEAL_F = "heal"
_FAULT_DETAILS = ("signal", "toxic", "kind", "mode", "stream")


def _seconds(value: Any) -> str:
    return f"{value:g}s" if isinstance(value, int | float) else str(value)


def fault_line(op: Op) -> str | None:
    """A fault applied, healed or failed; ``None`` for the nemesis's invokes."""
    value = op.value
    ident, name = value.get("fault_id", "?"), value.get("fault", op.f)
    if op.type == OpType.FAIL:
        step = "heal" if op.f == HEAL_F else name
        return f"fault {ident} {step} FAILED: {value.get('error', 'no error recorded')}"
    if op.type != OpType.OK:
        return None
    target = value.get("target") or value.get("proxy")
    what = f"{name} {target}" if target and target != name else str(name)
    if op.f == HEAL_F:
        note = f" ({value['note']})" if value.get("note") else ""
        return f"fault {ident} healed: {what}{note}"
    details = [str(value[key]) for key in _FAULT_DETAILS if value.get(key)]
    shown = f" ({', '.join(details)})" if details else ""
    lasting = f" for {_seconds(value['for_s'])}" if value.get("for_s") is not None else ""
    return f"fault {ident} applied: {what}{shown}{lasting}"


def role_line(op: Op) -> str | None:
    value = op.value
    if "instance" not in value or "role" not in value:
        return None
    because = "; ".join(str(part) for part in (f"epoch {value['epoch']}" if "epoch" in value else None,
                                                value.get("reason")) if part)
    return f"role: {value['instance']} is {value['role']}" + (f" ({because})" if because else "")


def decision_line(op: Op) -> str | None:
    """A failover daemon's decision change; its heartbeats ("still here, still healthy") say nothing new."""
    value = op.value
    if value.get("heartbeat") or "decision" not in value:
        return None
    detail = value.get("detail")
    reason = detail.get("reason") if isinstance(detail, dict) else None
    return f"failover: {value.get('daemon', op.process)} decided {value['decision']}" + (
        f" ({reason})" if reason else "")


def action_line(op: Op) -> str | None:
    if op.type == OpType.OK:
        return f"operator: {op.f} done"
    if op.type == OpType.FAIL:
        return f"operator: {op.f} FAILED: {op.value.get('error', 'no error recorded')}"
    return None


def stop_line(op: Op) -> str:
    """A stop line crossed (``run`` op ``stop``): the run aborts its timeline."""
    reason = op.value.get("reason") or f"stopped: {op.value.get('condition', '?')}"
    return f"STOP {reason}; aborting the timeline, healing every fault, then the safety steps"


def phase_line(op: Op) -> str | None:
    """The runner's phases (``run`` ops ``phase``) and a crossed stop line; the run's start and end
    print nothing."""
    value = op.value
    if op.f == STOP_F:
        return stop_line(op)
    if op.f != RUN_PHASE_F:
        return None
    phase = value.get("phase")
    if phase == RunPhase.WORKLOAD:
        return (f"workload: {value.get('orders', '?')} orders over {_seconds(value.get('duration_s'))}; "
                f"{value.get('faults', 0)} fault(s), {value.get('actions', 0)} action(s)")
    if phase == RunPhase.HEAL:
        return "healing every fault still applied"
    if phase == RunPhase.SETTLE:
        among = ", ".join(str(name) for name in value.get("instances", []))
        return (f"settle: waiting up to {_seconds(value.get('timeout_s'))} for an instance that is active "
                f"and answers /health/deep" + (f" (of {among})" if among else ""))
    if phase == RunPhase.SETTLED:
        waited = _seconds(value.get("waited_s"))
        if value.get("active"):
            return f"settled: {value['active']} is active and deep-healthy after {waited}"
        return f"settle timed out: no instance active and deep-healthy after {waited}"
    if phase == RunPhase.CAPTURE:
        matching = value.get("venue_matching")
        if matching == "stopped":
            return "final capture: the venue's matching stopped"
        return f"final capture: the venue's matching not stopped ({matching}: {value.get('detail', '')})"
    return None


def load_line(op: Op) -> str | None:
    """A scenario's locust load starting and stopping (its seconds print nothing of their own)."""
    value = op.value
    if op.f == "start":
        return f"locust: {value.get('users', '?')} users against {value.get('host', '?')}"
    if op.f == "stop":
        return (f"locust stopped: {value.get('requests', 0)} requests, {value.get('failures', 0)} failed, "
                f"p99 {value.get('p99_ms', '-')} ms")
    return None


def feeds_line(op: Op) -> str | None:
    """An OMS's feed switch (``oms.feeds`` with ``switch``); its other feed events say nothing new."""
    value = op.value
    if not value.get("switch"):
        return None
    instance = value.get("instance", op.process)
    previous, selected = value.get("previous") or "none", value.get("selected") or "none"
    return f"feeds: {instance} switched {previous} -> {selected} ({value.get('reason', '')})"


_SUT_LINES: dict[str, Callable[[Op], str | None]] = {"roles": role_line, "failover": decision_line,
                                                     "feeds": feeds_line}
_LINES: dict[OpKind, Callable[[Op], str | None]] = {
    OpKind.FAULT: fault_line,
    OpKind.ACTION: action_line,
    OpKind.RUN: phase_line,
    OpKind.LOAD: load_line,
    OpKind.SUT: lambda op: _SUT_LINES[op.f](op) if op.f in _SUT_LINES else None,
}


def describe(op: Op) -> str | None:
    """The line one op deserves on its own, or ``None`` (most ops: orders, probes, SUT telemetry)."""
    line = _LINES.get(op.kind)
    return line(op) if line else None


def probe_line(op: Op, was_ok: bool | None) -> str | None:
    """A line when the trade probe's outcome changes (ok ↔ not ok); ``None`` otherwise."""
    if op.kind != OpKind.PROBE or op.f != "trade" or op.type == OpType.INVOKE:
        return None
    ok = op.type == OpType.OK
    if ok == was_ok:
        return None
    if ok:
        return f"trade probe ok{' again' if was_ok is False else ''} via {op.value.get('instance', '?')}"
    why = op.value.get("error") or op.value.get("status") or "no answer"
    return f"trade probe {'unknown' if op.type == OpType.INFO else 'failing'}: {why}"


@dataclass
class Orders:
    """Client orders that came back in one second: ok, failed, unknown outcome (``info``)."""

    ok: int = 0
    failed: int = 0
    unknown: int = 0

    def count(self, op: Op) -> None:
        if op.type == OpType.OK:
            self.ok += 1
        elif op.type == OpType.FAIL:
            self.failed += 1
        elif op.type == OpType.INFO:
            self.unknown += 1

    def __bool__(self) -> bool:
        return bool(self.ok or self.failed or self.unknown)


def orders_line(elapsed_s: int, duration_s: float, orders: Orders) -> str:
    """``workload 5/20s, 15s left: orders ok 48 / failed 2 per second``."""
    left = duration_s - elapsed_s
    where = f"{_seconds(left)} left" if left > 0 else "finishing in-flight orders" if left < 0 else "done"
    unknown = f" / unknown {orders.unknown}" if orders.unknown else ""
    return (f"workload {elapsed_s}/{_seconds(duration_s)}, {where}: orders ok {orders.ok} / failed "
            f"{orders.failed}{unknown} per second")


@dataclass(frozen=True)
class _Workload:
    starts_ns: int
    duration_s: float


class LiveConsole:
    """Prints a run as it happens to a rich ``Console`` or a ``write(str)`` sink.

    ``observe`` is the history observer; ``progress`` takes the runner's own lines; ``finished``
    the graded result. Lines recorded before the run's start op (the stack announcing its first
    roles) are held until it arrives, so their offsets share the reports' origin.
    """

    def __init__(self, sink: Console | Callable[[str], None], origin_ns: int | None = None) -> None:
        self._sink = sink
        self._origin_ns = origin_ns
        self._held: list[tuple[int, str]] = []
        self._probe_ok: bool | None = None
        self._workload: _Workload | None = None
        self._second = 0
        self._orders = Orders()
        self._now_ns = 0

    def _write(self, line: str) -> None:
        if isinstance(self._sink, Console):
            self._sink.print(Text(line), soft_wrap=True)
        else:
            self._sink(line)

    def _line(self, t_ns: int, body: str) -> None:
        if self._origin_ns is None:
            self._held.append((t_ns, body))
        else:
            self._write(f"{INDENT}{offset(t_ns, self._origin_ns):>8}  {body}")

    def _release(self, origin_ns: int) -> None:
        self._origin_ns = origin_ns
        held, self._held = self._held, []
        for t_ns, body in held:
            self._line(t_ns, body)

    def progress(self, line: str) -> None:
        self._write(f"{INDENT}{line}")

    def observe(self, op: Op) -> None:
        self._now_ns = max(self._now_ns, op.t_ns)
        self._count_orders(op)
        if op.kind == OpKind.RUN and op.f == "start" and self._origin_ns is None:
            self._release(op.t_ns)
        elif op.kind == OpKind.RUN:  # a phase after the workload, or the run's end
            self._end_workload()
        line = describe(op) or probe_line(op, self._probe_ok)
        if op.kind == OpKind.PROBE and op.f == "trade" and op.type != OpType.INVOKE:
            self._probe_ok = op.type == OpType.OK
        if line is not None:
            self._line(sut_time(op) if op.kind == OpKind.SUT else op.t_ns, line)
        if op.kind == OpKind.RUN and op.f == RUN_PHASE_F and op.value.get("phase") == RunPhase.WORKLOAD:
            self._workload, self._second, self._orders = _Workload(
                int(op.value.get("starts_ns", op.t_ns)), float(op.value.get("duration_s", 0))), 0, Orders()

    def _count_orders(self, op: Op) -> None:
        """Print each second of the workload that ``op``'s instant closed, then count ``op``."""
        workload = self._workload
        if workload is None:
            return
        while op.t_ns >= workload.starts_ns + (self._second + 1) * NS:
            self._print_second(workload)
        if op.kind == OpKind.CLIENT and op.t_ns >= workload.starts_ns:
            self._orders.count(op)

    def _print_second(self, workload: _Workload) -> None:
        elapsed = self._second + 1
        if elapsed <= workload.duration_s or self._orders:
            at_ns = min(workload.starts_ns + elapsed * NS, self._now_ns)  # a last second may be partial
            self._line(at_ns, orders_line(elapsed, workload.duration_s, self._orders))
        self._second, self._orders = elapsed, Orders()

    def _end_workload(self) -> None:
        """The workload is over (the healing began, or the run ended): its last, partial second."""
        if self._workload is not None and self._orders:
            self._print_second(self._workload)
        self._workload = None

    def finished(self, result: RunResult, ops: Sequence[Op], run_dir: Path) -> None:
        """Release what is held; on a FAIL or UNKNOWN, name each instance's last role change and log."""
        self._end_workload()
        if self._origin_ns is None:
            self._release(min((t_ns for t_ns, _ in self._held), default=0))
        if result.verdict in (Verdict.FAIL, Verdict.UNKNOWN):
            for line in where_to_look(result.verdict, last_role_changes(ops), silent_since(ops),
                                      stack_logs(run_dir), Clock.of(ops).origin_ns):
                self._write(f"{INDENT}{line}")
