"""``summary.md``: a short postmortem block to paste into an incident channel or a ticket.

What was injected when (``t+`` seconds from the run's start), what recovered when, what failed
and why, with the numbers; read off the graded result and :class:`ReportData` alone.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

from gameday.history import Op
from gameday.report.data import ReportData, build_report_data
from gameday.report.html_parts import starvation_text
from gameday.verdict import ExpectationResult, RunResult, Verdict

__all__ = ["SUMMARY_MD", "summary_markdown", "write_summary"]

SUMMARY_MD = "summary.md"
LISTED = 8


def _t(seconds: float) -> str:
    return f"t+{seconds:.2f} s"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _capped(lines: list[str]) -> list[str]:
    if len(lines) <= LISTED:
        return lines
    return [*lines[:LISTED], f"- … and {len(lines) - LISTED} more (see report.html)"]


def _injected(data: ReportData) -> list[str]:
    lines = []
    for fault in data.faults:
        line = f"- {_t(fault.start_s)} **{fault.tag}** {fault.label}"
        if fault.heal_s is not None:
            line += f", healed {_t(fault.heal_s)} ({fault.heal_s - fault.start_s:.2f} s)"
        elif not fault.instant:
            line += ", never healed"
        lines.append(line)
    return _capped(lines) or ["- nothing (no fault in the scenario)"]


def _by_name(result: RunResult) -> dict[str, ExpectationResult]:
    return {expectation.name: expectation for expectation in result.expectations}


def _role_changes(data: ReportData, *, to_active: bool) -> list[tuple[float, str]]:
    """Role changes after the first fault: those to ``active`` (recoveries), or those away from it."""
    first_fault = min((fault.start_s for fault in data.faults), default=None)
    if first_fault is None:
        return []
    found = []
    for lane in data.lanes:
        if not lane.key.startswith("role:"):
            continue
        instance = lane.key.removeprefix("role:")
        for before, item in itertools.pairwise(lane.items):
            if item.start_s < first_fault:
                continue
            at = _t(item.start_s)
            if to_active and item.label == "active" and before.label != "active":
                found.append((item.start_s, f"- {at} {instance} became active (was {before.label})"))
            elif not to_active and before.label == "active" and item.label != "active":
                found.append((item.start_s, f"- {at} {instance} {item.label} (was active)"))
    return found


def _recovered(result: RunResult, data: ReportData) -> list[str]:
    graded = _by_name(result)
    timed = _role_changes(data, to_active=True)
    for interval in data.intervals:
        expectation = graded.get(interval.name)
        bound = f" (bound {expectation.bound_text}, {expectation.verdict.value})" if expectation else ""
        note = f": {_one_line(expectation.note)}" if expectation and expectation.note else ""
        at = "never" if interval.open_ended else _t(interval.end_s)
        timed.append((interval.end_s, f"- {at} **{interval.label}**{bound}{note}"))
    for fault in data.faults:
        if fault.heal_s is not None:
            timed.append((fault.heal_s, f"- {_t(fault.heal_s)} {fault.tag} healed"))
    return _capped([line for _, line in sorted(timed, key=lambda pair: pair[0])])


def _lost(data: ReportData) -> list[str]:
    changes = sorted(_role_changes(data, to_active=False), key=lambda pair: pair[0])
    return _capped([line for _, line in changes])


def _failed(result: RunResult) -> list[str]:
    lines = []
    if result.run_status is not None and result.run_status.stopped_early:
        lines.append(f"- the run {result.run_status.value.upper()}: "
                     f"{_one_line(result.abort_reason or 'no reason recorded')}")
    for expectation in result.expectations:
        if expectation.verdict is Verdict.PASS:
            continue
        why = _one_line(expectation.error or expectation.note or "no note")
        lines.append(f"- `{expectation.name}` {expectation.verdict.value.upper()}: observed "
                     f"{expectation.observed_text}, expected {expectation.bound_text} — {why}")
    return lines


def _traffic(data: ReportData) -> str:
    orders = data.orders
    errors = ", ".join(f"{error}: {count}" for error, count in orders.top_errors.items())
    text = (f"{orders.placed} orders: {orders.ok} ok, {orders.failed} failed, {orders.unknown} unknown"
            + (f" ({errors})" if errors else "") + (f", {orders.in_flight} never answered" if orders.in_flight
                                                    else ""))
    if orders.fills is not None:
        text += f"; {orders.fills} fills ({orders.fills_source})"
    probes = [f"{len(series)} {series.name}" for series in data.probes]
    if probes:
        text += f"; trade probes: {', '.join(probes)}"
    return text


def _deploy(data: ReportData) -> str | None:
    lane = data.lane("deploy")
    if lane is None or not lane.items:
        return None
    return " → ".join(f"{_t(item.start_s)} {item.label}" for item in lane.items)


def summary_markdown(result: RunResult, data: ReportData) -> str:
    counts = result.counts
    defects = ", ".join(result.defects) or "none"
    lines = [
        f"### {result.scenario}: {result.verdict.value.upper()}",
        "",
        f"run `{result.run_id or '?'}` · seed {result.seed} · defects: {defects} · "
        f"{counts[Verdict.PASS]} passed, {counts[Verdict.FAIL]} failed, {counts[Verdict.UNKNOWN]} unknown · "
        f"{data.end_s:.1f} s recorded (t+0 = {data.origin})",
    ]
    if result.starvation is not None and result.starvation.starved:
        lines += ["", f"**Machine:** {starvation_text(result.starvation)}"]
    lines += ["", "**Injected**", *_injected(data)]
    lost = _lost(data)
    if lost:
        lines += ["", "**Lost** (active instances that stopped being active)", *lost]
    recovered = _recovered(result, data)
    if recovered:
        lines += ["", "**Recovered**", *recovered]
    failed = _failed(result)
    lines += ["", "**Failed**", *failed] if failed else ["", "**Failed:** nothing; every expectation passed."]
    lines += ["", f"**Traffic:** {_traffic(data)}"]
    deploy = _deploy(data)
    if deploy:
        lines += ["", f"**Deploy:** {deploy}"]
    return "\n".join(lines) + "\n"


def write_summary(result: RunResult, ops: Sequence[Op], run_dir: Path, *,
                  data: ReportData | None = None) -> Path:
    """Write ``summary.md`` into ``run_dir``."""
    data = data if data is not None else build_report_data(ops, result.expectations)
    path = run_dir / SUMMARY_MD
    path.write_text(summary_markdown(result, data), encoding="utf-8")
    return path
