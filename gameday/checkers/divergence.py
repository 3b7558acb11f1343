"""``positions.divergence_bps``: how far apart the positions of instances taking orders at once were.

Two instances are live at once while both have orders reaching the venue (stretches of orders
less than a second apart, from the ledger). At every ``oms.positions`` sample one of them
published inside such a stretch, its positions are compared with the other's state then: its
latest sample, or one it published up to ``SAMPLE_SKEW_NS`` later (two processes booking the
same fill publish a few milliseconds apart), whichever is closer. The difference per symbol is in
bps of the quantity the venue had filled in that symbol so far. An atomic cutover has no such
stretch: the value is 0.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from gameday.checker_specs import POSITIONS_DIVERGENCE_BPS
from gameday.checkers.base import Observation, Specified
from gameday.checkers.deploy_records import PositionsEvent, Subject, published
from gameday.checkers.ledger_timeline import (
    GrossFilled,
    Segment,
    attributed_orders,
    gross_before,
    ledger_timeline,
    live_segments,
)
from gameday.checkers.records import Reference, reference
from gameday.history import Op

__all__ = ["PositionDivergence", "concurrent_stretches"]

BPS = 10_000
SAMPLE_SKEW_NS = 500_000_000
MAX_LISTED = 10


@dataclass(frozen=True)
class Concurrent:
    instances: tuple[str, str]
    first_ns: int
    last_ns: int


def concurrent_stretches(segments: Sequence[Segment]) -> list[Concurrent]:
    """Every stretch during which two different instances were both taking orders."""
    found = []
    for a, b in combinations(segments, 2):
        overlap = a.overlap(b) if a.key != b.key else None
        if overlap is not None:
            pair = (a.key, b.key) if a.key < b.key else (b.key, a.key)
            found.append(Concurrent(pair, *overlap))
    return sorted(found, key=lambda stretch: stretch.first_ns)


class _Samples:
    def __init__(self, samples: Sequence[PositionsEvent]) -> None:
        self._by_instance: dict[str, list[PositionsEvent]] = defaultdict(list)
        for sample in sorted(samples, key=lambda sample: sample.t_ns):
            self._by_instance[sample.instance].append(sample)

    def within(self, instance: str, first_ns: int, last_ns: int) -> list[PositionsEvent]:
        return [s for s in self._by_instance.get(instance, []) if first_ns <= s.t_ns <= last_ns]

    def around(self, instance: str, t_ns: int) -> list[PositionsEvent]:
        """The latest sample at ``t_ns`` and those published within the skew after it."""
        samples = self._by_instance.get(instance, [])
        index = bisect.bisect_right([sample.t_ns for sample in samples], t_ns)
        later = [sample for sample in samples[index:] if sample.t_ns <= t_ns + SAMPLE_SKEW_NS]
        return samples[index - 1:index] + later


def _compare(sample: PositionsEvent, other: PositionsEvent, gross: GrossFilled,
             ref: Reference) -> tuple[float, dict[str, Any]]:
    worst, entry = 0.0, {}
    for symbol in sorted(set(sample.positions) | set(other.positions)):
        mine, theirs = sample.positions.get(symbol, 0), other.positions.get(symbol, 0)
        bps = abs(mine - theirs) / max(gross.at(symbol, sample.t_ns), 1) * BPS
        if bps > worst:
            worst = bps
            entry = {"symbol": symbol, sample.instance: mine, other.instance: theirs, "bps": round(bps, 4),
                     **ref.instant(sample.t_ns)}
    return worst, entry


def _closest(sample: PositionsEvent, others: Sequence[PositionsEvent], gross: GrossFilled,
             ref: Reference) -> tuple[float, dict[str, Any]]:
    return min((_compare(sample, other, gross, ref) for other in others), key=lambda result: result[0])


def _compare_stretches(stretches: Sequence[Concurrent], samples: _Samples, gross: GrossFilled,
                       ref: Reference) -> tuple[int, list[dict[str, Any]]]:
    """How many samples were compared, and the worst symbol of each one that was apart."""
    compared, diverged = 0, []
    for stretch in stretches:
        for instance, other in (stretch.instances, stretch.instances[::-1]):
            for sample in samples.within(instance, stretch.first_ns, stretch.last_ns):
                candidates = samples.around(other, sample.t_ns)
                if not candidates:
                    continue
                compared += 1
                bps, entry = _closest(sample, candidates, gross, ref)
                if bps > 0:
                    diverged.append(entry)
    return compared, diverged


class PositionDivergence(Specified):
    spec = POSITIONS_DIVERGENCE_BPS
    description = "largest gap between the positions of instances taking orders at the same time, in bps"

    def check(self, ops: Sequence[Op]) -> Observation:
        timeline = ledger_timeline(ops)
        if timeline is None:
            return Observation.absent(self.unit, "no ledger snapshot in the history")
        stretches = concurrent_stretches(live_segments(attributed_orders(timeline)))
        ref = reference(ops)
        evidence: dict[str, Any] = {"reference": ref.describe(), "concurrent": [
            {"instances": list(s.instances), "from": ref.instant(s.first_ns), "to": ref.instant(s.last_ns)}
            for s in stretches[:MAX_LISTED]]}
        if not stretches:
            return Observation(value=0, unit=self.unit, evidence=evidence,
                               note="never two instances taking orders at once")
        samples = _Samples(published(ops, Subject.OMS_POSITIONS, PositionsEvent))
        compared, diverged = _compare_stretches(stretches, samples, gross_before(timeline.fills), ref)
        if not compared:
            note = "instances took orders at once, but no oms.positions samples of both to compare"
            return Observation.absent(self.unit, note, **evidence)
        worst = max((entry["bps"] for entry in diverged), default=0.0)
        evidence.update(compared=compared, diverged=sorted(diverged, key=lambda e: e["t_ns"])[:MAX_LISTED])
        return Observation(value=worst, unit=self.unit, evidence=evidence,
                           note=f"{len(stretches)} stretch(es) with two instances live; "
                                f"{len(diverged)} of {compared} sample(s) apart")
