"""The dark-launch verifier's verdicts graded against the truth the outputs themselves tell.

- ``verifier.false_clean``: ``clean`` verdicts issued while green trailed blue by more than 5 s, or
  after blue's and green's outputs for one event had differed by more than 1 bp; only verdicts
  issued while green was a shadow count (before a cutover or split started).
- ``verifier.divergence_caught``: a ``diverged`` verdict before any cutover started.

The truth pairs ``oms.outputs`` (the active instance) with ``oms.shadow.outputs`` (green) by event
id, on the times the instances stamped (``processed_ns``). A verdict is judged on the truth as it
stood ``DELIVERY_ALLOWANCE_NS`` earlier: the verifier can only know what reached it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from gameday.checker_specs import VERIFIER_DIVERGENCE_CAUGHT, VERIFIER_FALSE_CLEAN
from gameday.checkers.base import Observation, Specified
from gameday.checkers.deploy_records import (
    Milestone,
    OutputEvent,
    Subject,
    VerdictEvent,
    VerifierVerdict,
    first_milestone,
    phases,
    published,
)
from gameday.checkers.records import Reference, reference, seconds
from gameday.history import Op

__all__ = ["DivergenceCaught", "FalseClean", "ShadowTruth", "differing_fields"]

MAX_LAG_NS = 5_000_000_000
TOLERANCE_BPS = 1.0
DELIVERY_ALLOWANCE_NS = 1_000_000_000
MAX_LISTED = 10
_NUMERIC = ("position", "avg_price", "realized_pnl")
_EXACT = ("order_status", "cum_qty")
_SHADOW_ENDS = frozenset({Milestone.CUTOVER_STARTED, Milestone.SPLIT_STARTED})


def _bps(blue: float, green: float) -> float:
    if blue == green:
        return 0.0
    return math.inf if blue == 0 else abs(green - blue) / abs(blue) * 10_000


def differing_fields(blue: OutputEvent, green: OutputEvent,
                     tolerance_bps: float = TOLERANCE_BPS) -> list[str]:
    """The outputs of one event that differ beyond the tolerance (direction and order state: at all)."""
    fields = [name for name in _NUMERIC
              if _bps(float(getattr(blue, name)), float(getattr(green, name))) > tolerance_bps]
    if (blue.position > 0) - (blue.position < 0) != (green.position > 0) - (green.position < 0):
        fields.append("direction")
    fields.extend(name for name in _EXACT if getattr(blue, name) != getattr(green, name))
    return fields


def _first_by_event(outputs: Sequence[OutputEvent]) -> dict[str, OutputEvent]:
    first: dict[str, OutputEvent] = {}
    for output in sorted(outputs, key=lambda output: output.processed_ns):
        first.setdefault(output.event_id, output)
    return first


class ShadowTruth:
    """Green's true lag behind blue, and whether their outputs had differed, at any instant."""

    def __init__(self, blue: Sequence[OutputEvent], green: Sequence[OutputEvent]) -> None:
        blue_first, self._green = _first_by_event(blue), _first_by_event(green)
        self._blue = sorted(blue_first.values(), key=lambda output: output.processed_ns)
        pairs = [(output, self._green[output.event_id]) for output in self._blue
                 if output.event_id in self._green]
        self._pair_lags = sorted((g.processed_ns, g.processed_ns - b.processed_ns) for b, g in pairs)
        differing = [(max(b.processed_ns, g.processed_ns), b, g) for b, g in pairs if differing_fields(b, g)]
        self.first_difference = min(differing, key=lambda entry: entry[0], default=None)
        self.events = len(self._blue)
        self.paired = len(pairs)

    def lag_ns(self, t_ns: int) -> int:
        """Age of the oldest event blue had processed and green had not; else the last pair's lag."""
        for output in self._blue:
            if output.processed_ns > t_ns:
                break
            twin = self._green.get(output.event_id)
            if twin is None or twin.processed_ns > t_ns:
                return t_ns - output.processed_ns
        done = [lag for green_ns, lag in self._pair_lags if green_ns <= t_ns]
        return max(0, done[-1]) if done else 0

    def diverged_by(self, t_ns: int) -> bool:
        return self.first_difference is not None and self.first_difference[0] <= t_ns


def _verdicts(ops: Sequence[Op]) -> list[VerdictEvent]:
    return sorted(published(ops, Subject.DEPLOY_VERDICTS, VerdictEvent), key=lambda event: event.t_ns)


def _shadow_ends_ns(ops: Sequence[Op]) -> int | None:
    """When green stopped being a shadow (a cutover or a split started); verdicts after do not decide."""
    ends = [event.t_ns for event in phases(ops) if event.reason in _SHADOW_ENDS]
    return min(ends, default=None)


def _misjudged(verdict: VerdictEvent, truth: ShadowTruth, ref: Reference) -> dict[str, Any] | None:
    known_ns = verdict.t_ns - DELIVERY_ALLOWANCE_NS
    lag = truth.lag_ns(known_ns)
    if lag > MAX_LAG_NS:
        why = f"green trailed by {seconds(lag)}s"
    elif truth.diverged_by(known_ns):
        why = "blue's and green's outputs had differed"
    else:
        return None
    reported = None if verdict.lag_ns is None else seconds(verdict.lag_ns)
    return {"why": why, "true_lag_s": seconds(lag), "reported_lag_s": reported, **ref.instant(verdict.t_ns)}


def _outputs(ops: Sequence[Op]) -> tuple[list[OutputEvent], list[OutputEvent]]:
    """Blue's outputs (an instance that never published shadow outputs) and green's."""
    green = published(ops, Subject.SHADOW_OUTPUTS, OutputEvent)
    shadows = {output.instance for output in green}
    blue = [output for output in published(ops, Subject.OMS_OUTPUTS, OutputEvent)
            if output.instance is None or output.instance not in shadows]
    return blue, green


class FalseClean(Specified):
    spec = VERIFIER_FALSE_CLEAN
    description = "clean verdicts issued while green's true lag exceeded 5 s or its outputs had diverged"

    def check(self, ops: Sequence[Op]) -> Observation:
        verdicts = _verdicts(ops)
        if not verdicts:
            return Observation.absent(self.unit, "no deploy.verdicts event recorded")
        until = _shadow_ends_ns(ops)
        clean = [verdict for verdict in verdicts if verdict.verdict == VerifierVerdict.CLEAN
                 and (until is None or verdict.t_ns < until)]
        blue, green = _outputs(ops)
        if clean and not (blue or green):
            return Observation.absent(self.unit, "clean verdicts, but no oms.outputs / oms.shadow.outputs "
                                                 "to judge them by")
        truth, ref = ShadowTruth(blue, green), reference(ops)
        judged = (_misjudged(verdict, truth, ref) for verdict in clean)
        wrong = [entry for entry in judged if entry is not None]
        evidence: dict[str, Any] = {
            "reference": ref.describe(), "verdicts": len(verdicts), "clean": len(clean),
            "judged_until": None if until is None else ref.instant(until),
            "events": truth.events, "paired": truth.paired, "false_clean": wrong[:MAX_LISTED],
        }
        if truth.first_difference is not None:
            at_ns, blue_output, green_output = truth.first_difference
            evidence["first_difference"] = {"event_id": blue_output.event_id, **ref.instant(at_ns),
                                            "fields": differing_fields(blue_output, green_output)}
        return Observation(value=len(wrong), unit=self.unit, evidence=evidence,
                           note=f"{len(wrong)} of {len(clean)} clean verdict(s) contradicted by the outputs"
                           + (f" (first: {wrong[0]['why']})" if wrong else ""))


class DivergenceCaught(Specified):
    spec = VERIFIER_DIVERGENCE_CAUGHT
    description = "1 when the verifier reported diverged before any cutover started, else 0"

    def check(self, ops: Sequence[Op]) -> Observation:
        verdicts, events = _verdicts(ops), phases(ops)
        if not verdicts and not events:
            return Observation.absent(self.unit, "no deploy.verdicts or deploy.phases event recorded")
        diverged = [verdict.t_ns for verdict in verdicts if verdict.verdict == VerifierVerdict.DIVERGED]
        diverged += [event.t_ns for event in events if event.reason == Milestone.VERIFIER_DIVERGED
                     or event.verdict == VerifierVerdict.DIVERGED]
        cutover = first_milestone(events, Milestone.CUTOVER_STARTED)
        first = min(diverged, default=None)
        caught = first is not None and (cutover is None or first < cutover.t_ns)
        ref = reference(ops)
        return Observation(
            value=int(caught), unit=self.unit,
            evidence={"reference": ref.describe(),
                      "first_diverged": None if first is None else ref.instant(first),
                      "cutover_started": None if cutover is None else ref.instant(cutover.t_ns)},
            note="diverged before any cutover" if caught
            else "never diverged" if first is None else "diverged only after the cutover had started",
        )
