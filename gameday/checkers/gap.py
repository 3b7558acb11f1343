"""``trading.gap``: the longest time no trade probe succeeded, once trading had started."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from gameday.checker_specs import TRADING_GAP
from gameday.checkers.base import Observation, Specified
from gameday.checkers.records import Reference, TradeOk, parse, reference, seconds
from gameday.checkers.trade_probes import venue_halted
from gameday.history import Op, OpKind, OpType

__all__ = ["TradingGap"]

_TRADE_PROBE = "probe-trade"


@dataclass(frozen=True)
class _Edge:
    """One end of a gap: a successful probe (with its instance) or the last attempt (none)."""

    t_ns: int
    instance: str | None


@dataclass(frozen=True)
class _Gap:
    start: _Edge
    end: _Edge

    @property
    def ns(self) -> int:
        return self.end.t_ns - self.start.t_ns


def _trade_probes(ops: Sequence[Op]) -> list[Op]:
    """Trade probe ops in time order, without the attempts the venue refused on a halted symbol
    (a venue state, not an outage of the OMS: see :mod:`gameday.checkers.trade_probes`)."""
    probes = [op for op in ops if op.kind == OpKind.PROBE and op.process == _TRADE_PROBE and op.f == "trade"]
    kept: list[Op] = []
    for op in sorted(probes, key=lambda op: (op.t_ns, op.index)):
        symbol = op.value.get("symbol")
        if venue_halted(op, symbol if isinstance(symbol, str) else None):
            if kept and kept[-1].type == OpType.INVOKE:
                kept.pop()  # the halted attempt's own invoke
            continue
        kept.append(op)
    return kept


def _gaps(probes: Sequence[Op], successes: Sequence[_Edge]) -> list[_Gap]:
    """Between consecutive successes, then from the last success to the last attempt if later."""
    gaps = [_Gap(before, after) for before, after in pairwise(successes)]
    last_attempt = probes[-1].t_ns
    if last_attempt > successes[-1].t_ns:
        gaps.append(_Gap(successes[-1], _Edge(last_attempt, None)))
    return gaps


def _failed_inside(probes: Sequence[Op], gap: _Gap) -> int:
    return sum(1 for op in probes if op.type in (OpType.FAIL, OpType.INFO)
               and gap.start.t_ns < op.t_ns <= gap.end.t_ns)


def _note(gap: _Gap, failed: int) -> str:
    if gap.end.instance is None:
        return (f"no trade succeeded in the last {seconds(gap.ns)} s of probing after {gap.start.instance} "
                f"({failed} probes failed)")
    return (f"longest stretch without a successful trade: {seconds(gap.ns)} s, "
            f"{gap.start.instance} then {gap.end.instance} ({failed} probes failed)")


class TradingGap(Specified):
    spec = TRADING_GAP
    description = ("longest interval between successful trade probes, from the first success to the "
                   "last probe attempt")

    def check(self, ops: Sequence[Op]) -> Observation:
        probes = _trade_probes(ops)
        successes = [_Edge(op.t_ns, parse(TradeOk, op).instance) for op in probes if op.type == OpType.OK]
        if not successes:
            attempts = sum(1 for op in probes if op.type == OpType.INVOKE)
            return Observation.absent(self.unit, "no trade probe succeeded", attempts=attempts)
        gaps = _gaps(probes, successes)
        longest = max(gaps, key=lambda gap: gap.ns, default=_Gap(successes[0], successes[0]))
        failed = _failed_inside(probes, longest)
        return Observation(
            value=seconds(longest.ns),
            unit=self.unit,
            evidence=self._evidence(reference(ops), longest, failed, len(successes)),
            note=_note(longest, failed),
        )

    @staticmethod
    def _evidence(ref: Reference, gap: _Gap, failed: int, successes: int) -> dict[str, object]:
        return {
            "reference": ref.describe(),
            "start": ref.instant(gap.start.t_ns),
            "end": ref.instant(gap.end.t_ns),
            "instance_before": gap.start.instance,
            "instance_after": gap.end.instance,
            "until_last_attempt": gap.end.instance is None,
            "failed_probes": failed,
            "successful_probes": successes,
        }
