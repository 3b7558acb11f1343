"""The firm's book at the end, on the venue's ledger (the truth, whatever an OMS says).

- ``ledger.open_orders_at_end``: orders still open at the venue in the final ledger snapshot;
- ``ledger.gross_position_at_end``: the sum over symbols of the absolute net filled quantity (lots).

Both ``0``: the book is flat and nothing can fill any more (what a stop line's safety steps must
leave). Unknown without a ledger snapshot (the venue did not answer, or the run never captured one).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from gameday.checker_specs import LEDGER_GROSS_POSITION_AT_END, LEDGER_OPEN_ORDERS_AT_END
from gameday.checkers.base import Observation, Specified
from gameday.checkers.ledger_timeline import LedgerTimeline, ledger_timeline
from gameday.history import Op

__all__ = ["GrossPositionAtEnd", "OpenOrdersAtEnd"]

MAX_LISTED = 10
_NO_LEDGER = "no ledger snapshot (the venue's ledger was not read)"


class _AtEnd(Specified):

    def check(self, ops: Sequence[Op]) -> Observation:
        timeline = ledger_timeline(ops)
        if timeline is None:
            return Observation.absent(self.unit, _NO_LEDGER)
        return self.read(timeline)

    def read(self, timeline: LedgerTimeline) -> Observation:
        raise NotImplementedError


class OpenOrdersAtEnd(_AtEnd):
    spec = LEDGER_OPEN_ORDERS_AT_END
    description = "orders still open at the venue at the end of the run (its ledger)"

    def read(self, timeline: LedgerTimeline) -> Observation:
        still_open = [order for order in timeline.sorted_orders() if order.closed_ns is None]
        return Observation(value=len(still_open), unit=self.unit,
                           evidence={"orders": len(timeline.orders),
                                     "open": [order.cl_ord_id for order in still_open[:MAX_LISTED]]},
                           note=f"{len(still_open)} of {len(timeline.orders)} orders open at the venue "
                                f"at the end")


class GrossPositionAtEnd(_AtEnd):
    spec = LEDGER_GROSS_POSITION_AT_END
    description = "sum over symbols of |net filled lots| at the venue at the end of the run (its ledger)"

    def read(self, timeline: LedgerTimeline) -> Observation:
        positions: dict[str, int] = defaultdict(int)
        for fill in timeline.fills:
            positions[fill.symbol] += fill.signed_qty
        gross = sum(abs(position) for position in positions.values())
        return Observation(value=gross, unit=self.unit, evidence={"positions": dict(positions),
                                                                  "fills": len(timeline.fills)},
                           note=f"{gross} lots held at the end, net of every fill at the venue")
