"""Availability graded, not inferred: can the stack trade at the end, and how long could it not.

- ``trading.available_at_end``: 1 when an instance is active in the final state and the last trade
  probe succeeded, 0 when no instance was active (and the probes agree trading had stopped) or the
  last probe failed.
- ``trading.unavailable_s``: the total time, once trading had started, during which trade probes
  failed: each stretch runs from the last success before a failure to the next success (or to the
  last attempt when trading never came back).

Both leave out probes the venue refused because it halted their symbol (a venue state).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gameday.checker_specs import TRADING_AVAILABLE_AT_END, TRADING_UNAVAILABLE_S
from gameday.checkers.base import Observation, Specified
from gameday.checkers.evidence import TRADING_STOPPED, final_state
from gameday.checkers.records import Reference, reference, seconds
from gameday.checkers.trade_probes import Attempt, attempts, counted
from gameday.history import Op

__all__ = ["AvailableAtEnd", "TradingUnavailable", "Unavailability", "stretches"]

MAX_LISTED_STRETCHES = 10



def _tail(found: Sequence[Attempt]) -> tuple[int, Attempt | None]:
    """How many probes at the end share the last one's outcome, and the last success."""
    last = found[-1]
    run = 0
    for attempt in reversed(found):
        if attempt.ok != last.ok:
            break
        run += 1
    last_ok = next((attempt for attempt in reversed(found) if attempt.ok), None)
    return run, last_ok


class AvailableAtEnd(Specified):
    spec = TRADING_AVAILABLE_AT_END
    description = "1 when an instance is active at the end of the run and the last trade probe succeeded"

    def check(self, ops: Sequence[Op]) -> Observation:
        state = final_state(ops)
        if state is None:
            return Observation.absent(self.unit, "no final-state probe in the history")
        found = counted(attempts(ops))
        if not found:
            return Observation.absent(self.unit, "no trade probe completed in this run", active=state.active)
        last = found[-1]
        run, last_ok = _tail(found)
        ref = reference(ops)
        evidence: dict[str, Any] = {
            "active": state.active,
            "roles": {name: instance.role for name, instance in state.instances.items()},
            "last_probe": {**ref.instant(last.t_ns), "ok": last.ok, "instance": last.instance,
                           "symbol": last.symbol, "error": last.error},
            "last_success": None if last_ok is None else {**ref.instant(last_ok.t_ns),
                                                          "instance": last_ok.instance},
            ("successes_at_end" if last.ok else "failures_at_end"): run,
        }
        if state.active is None and last.ok:
            return Observation.absent(
                self.unit, f"no instance reported active at the end, though the last trade probe succeeded "
                           f"on {last.instance}: the two disagree", **evidence)
        if state.active is None:
            return Observation(value=0, unit=self.unit, evidence=evidence,
                               note=f"{TRADING_STOPPED} ({run} failed probes at the end: {last.error})")
        if not last.ok:
            return Observation(value=0, unit=self.unit, evidence=evidence,
                               note=f"{state.active} was active but the last {run} trade probes failed "
                                    f"({last.error})")
        return Observation(value=1, unit=self.unit, evidence=evidence,
                           note=f"{state.active} active; the last {run} trade probes succeeded")


@dataclass(frozen=True)
class Unavailability:
    """One stretch without trading: from the last success before a failure to the next success."""

    start: Attempt
    end: Attempt
    failed: int
    recovered: bool

    @property
    def ns(self) -> int:
        return self.end.t_ns - self.start.t_ns


def stretches(found: Sequence[Attempt]) -> list[Unavailability]:
    """The stretches without trading once trading had started (``found``: counted, in time order)."""
    result: list[Unavailability] = []
    last_ok: Attempt | None = None
    failed = 0
    for attempt in found:
        if attempt.ok:
            if last_ok is not None and failed:
                result.append(Unavailability(last_ok, attempt, failed, recovered=True))
            last_ok, failed = attempt, 0
        elif last_ok is not None:
            failed += 1
    if last_ok is not None and failed:
        result.append(Unavailability(last_ok, found[-1], failed, recovered=False))
    return result


class TradingUnavailable(Specified):
    spec = TRADING_UNAVAILABLE_S
    description = ("total time trade probes failed once trading had started: from the last success before "
                   "each failure to the next success, or to the last attempt")

    def check(self, ops: Sequence[Op]) -> Observation:
        found = counted(attempts(ops))
        if not any(attempt.ok for attempt in found):
            return Observation.absent(self.unit, "no trade probe succeeded", attempts=len(found))
        gaps = stretches(found)
        ref = reference(ops)
        total_ns = sum(gap.ns for gap in gaps)
        longest = max(gaps, key=lambda gap: gap.ns, default=None)
        evidence: dict[str, Any] = {
            "reference": ref.describe(),
            "stretches": len(gaps),
            "longest_s": 0.0 if longest is None else seconds(longest.ns),
            "listed": [_describe(gap, ref) for gap in gaps[:MAX_LISTED_STRETCHES]],
            "unrecovered_at_end": bool(gaps) and not gaps[-1].recovered,
        }
        note = "trading never failed once it had started"
        if gaps:
            note = (f"{len(gaps)} stretch(es) without trading, {seconds(total_ns)} s in all, the longest "
                    f"{evidence['longest_s']} s")
            if not gaps[-1].recovered:
                note += "; trading had not come back when the probes ended"
        return Observation(value=seconds(total_ns), unit=self.unit, evidence=evidence, note=note)


def _describe(gap: Unavailability, ref: Reference) -> dict[str, Any]:
    return {"from": ref.instant(gap.start.t_ns), "to": ref.instant(gap.end.t_ns), "s": seconds(gap.ns),
            "failed_probes": gap.failed, "instance_before": gap.start.instance,
            "instance_after": gap.end.instance if gap.recovered else None}
