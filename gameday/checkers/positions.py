"""``positions.mismatch_bps``: how far the active OMS's positions are from the venue's fills."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from gameday.checker_specs import POSITIONS_MISMATCH_BPS
from gameday.checkers.base import Observation, Specified
from gameday.checkers.evidence import LedgerSnapshot, Missing, active_at_end
from gameday.history import Op

__all__ = ["PositionMismatch"]

BPS = 10_000


def ledger_positions(ledger: LedgerSnapshot) -> tuple[dict[str, int], dict[str, int]]:
    """Net signed position and gross filled quantity per symbol, over every instance's fills."""
    net: dict[str, int] = defaultdict(int)
    gross: dict[str, int] = defaultdict(int)
    for fill in ledger.fills:
        net[fill.symbol] += fill.signed_qty
        gross[fill.symbol] += fill.qty
    return dict(net), dict(gross)


class PositionMismatch(Specified):
    spec = POSITIONS_MISMATCH_BPS
    description = "largest per-symbol gap between the active OMS's positions and the venue's fills, in bps"

    def check(self, ops: Sequence[Op]) -> Observation:
        evidence = active_at_end(ops)
        if isinstance(evidence, Missing):
            return evidence.observation(self.unit)
        active, ledger = evidence, evidence.ledger
        venue_net, venue_gross = ledger_positions(ledger)
        per_symbol: dict[str, dict[str, float | int]] = {}
        for symbol in sorted(set(venue_net) | set(active.positions)):
            oms_qty = active.positions.get(symbol, 0)
            venue_qty = venue_net.get(symbol, 0)
            gross = venue_gross.get(symbol, 0)
            bps = abs(oms_qty - venue_qty) / max(gross, 1) * BPS
            per_symbol[symbol] = {"oms": oms_qty, "ledger": venue_qty, "gross_filled": gross,
                                  "bps": round(bps, 4)}
        worst = max((entry["bps"] for entry in per_symbol.values()), default=0.0)
        note = f"active instance {active.name}"
        if not active.stable:
            note += "; the ledger changed while the final state was read"
        return Observation(
            value=worst,
            unit=self.unit,
            evidence={"active": active.name, "stable": active.stable, "symbols": per_symbol},
            note=note,
        )
