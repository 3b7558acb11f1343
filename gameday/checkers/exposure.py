"""``exposure.beyond_intended``: how far the venue's net position went past the strategy's intent.

The workload's strategy mode records every order as an intent with an id (``intent`` on the
client's ``place`` invoke); an intent sent to two instances is still one intent. Per symbol the
intended position is the signed sum of the distinct intents; the venue's is the net of every fill
in its ledger. The value is the worst symbol's excess, ``|venue| - |intended|`` when both lie on
the intended side (a position larger than meant), the whole gap when the venue is on the other
side, never below 0 (an intent refused everywhere leaves less exposure, not more), as a ratio of
the symbol's intents' gross lots (every intent's, for a symbol no intent named). Seed 002's
active-active strategy that trades every intent twice reads 1.0 (twice the intended position), an
intent-for-intent stack 0.

Assumes the intents are the run's only orders that fill (the trade probe's rest far from the
market and are cancelled).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gameday.checker_specs import EXPOSURE_BEYOND_INTENDED
from gameday.checkers.base import Observation, Specified
from gameday.checkers.evidence import Side, ledger_snapshot
from gameday.history import Op, OpKind, OpType

__all__ = ["ExposureBeyondIntended", "Intent", "excess_over_intended", "recorded_intents"]


class Intent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    intent: str = Field(min_length=1)
    symbol: str
    side: Side
    qty: int = Field(gt=0)

    @property
    def signed_qty(self) -> int:
        return self.qty if self.side is Side.BUY else -self.qty


def recorded_intents(ops: Sequence[Op]) -> tuple[dict[str, Intent], int]:
    """The distinct intents the clients placed (by id), and how many intent records were unreadable."""
    intents: dict[str, Intent] = {}
    unreadable = 0
    for op in ops:
        if op.kind is not OpKind.CLIENT or op.type is not OpType.INVOKE or "intent" not in op.value:
            continue
        try:
            intent = Intent.model_validate(op.value)
        except ValidationError:
            unreadable += 1
            continue
        intents.setdefault(intent.intent, intent)
    return intents, unreadable


def excess_over_intended(venue_net: int, intended: int) -> int:
    """Lots of position beyond the intended one (0 when the venue holds no more than meant)."""
    if intended == 0 or (venue_net > 0) != (intended > 0):
        return abs(venue_net - intended) if venue_net else 0
    return max(0, abs(venue_net) - abs(intended))


class ExposureBeyondIntended(Specified):
    spec = EXPOSURE_BEYOND_INTENDED
    description = ("largest per-symbol venue position beyond the strategy's intended one, "
                   "as a ratio of the intents' gross lots (1.0: every intent traded twice)")

    def check(self, ops: Sequence[Op]) -> Observation:
        intents, unreadable = recorded_intents(ops)
        if not intents:
            return Observation.absent(self.unit, "no strategy intents recorded (workload.strategy not set)",
                                      unreadable=unreadable)
        ledger = ledger_snapshot(ops)
        if ledger is None:
            return Observation.absent(self.unit, "no ledger snapshot in the history")
        intended: dict[str, int] = defaultdict(int)
        gross: dict[str, int] = defaultdict(int)
        for intent in intents.values():
            intended[intent.symbol] += intent.signed_qty
            gross[intent.symbol] += intent.qty
        venue: dict[str, int] = defaultdict(int)
        for fill in ledger.fills:
            venue[fill.symbol] += fill.signed_qty
        all_gross = sum(gross.values())
        per_symbol: dict[str, dict[str, Any]] = {}
        for symbol in sorted(set(intended) | set(venue)):
            excess = excess_over_intended(venue[symbol], intended[symbol])
            per_symbol[symbol] = {"intended": intended[symbol], "venue": venue[symbol],
                                  "intents_gross": gross[symbol], "excess_lots": excess,
                                  "ratio": round(excess / (gross[symbol] or all_gross), 4)}
        worst = max(per_symbol.items(), key=lambda item: item[1]["ratio"])
        return Observation(
            value=worst[1]["ratio"], unit=self.unit,
            evidence={"intents": len(intents), "unreadable": unreadable, "symbols": per_symbol},
            note=f"{len(intents)} intent(s); worst {worst[0]}: venue {worst[1]['venue']} "
                 f"against {worst[1]['intended']} intended",
        )
