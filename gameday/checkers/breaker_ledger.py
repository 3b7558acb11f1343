"""The firm's PnL and exposure replayed from the venue's ledger, for the circuit-breaker checkers.

PnL is cash accounting over the ledger's fills: ``Σ signed_qty · (mark - price)`` with each
symbol marked at its last filled price. An order is an *entry* when it does not merely reduce
the position its symbol had at the venue when the venue received it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from gameday.checkers.deploy_records import BreakerLimits
from gameday.checkers.ledger_timeline import LedgerTimeline, PricedFill, TimedOrder, reduces

__all__ = ["Breach", "first_breach", "first_flat", "positioned_orders"]


@dataclass(frozen=True)
class Breach:
    t_ns: int
    pnl: float
    peak: float
    exec_id: str


def first_breach(fills: Sequence[PricedFill], limits: BreakerLimits) -> Breach | None:
    """The first fill after which the ledger PnL breached a limit (``fills`` in time order)."""
    positions: dict[str, int] = defaultdict(int)
    cash: dict[str, float] = defaultdict(float)
    marks: dict[str, float] = {}
    peak = 0.0
    for fill in fills:
        positions[fill.symbol] += fill.signed_qty
        cash[fill.symbol] -= fill.signed_qty * fill.price
        marks[fill.symbol] = fill.price
        pnl = sum(positions[symbol] * marks[symbol] + cash[symbol] for symbol in marks)
        peak = max(peak, pnl)
        if limits.breached(pnl, peak):
            return Breach(fill.t_ns, round(pnl, 2), round(peak, 2), fill.exec_id)
    return None


@dataclass(frozen=True)
class PositionedOrder:
    order: TimedOrder
    position: int
    """The venue position of the order's symbol when the venue received it."""

    @property
    def is_entry(self) -> bool:
        return not reduces(self.position, self.order.signed_qty)


def positioned_orders(timeline: LedgerTimeline) -> list[PositionedOrder]:
    """Every order with its symbol's position at receipt, in receipt order."""
    fills = timeline.sorted_fills()
    positions: dict[str, int] = defaultdict(int)
    applied = 0
    result = []
    for order in timeline.sorted_orders():
        while applied < len(fills) and fills[applied].t_ns <= order.received_ns:
            positions[fills[applied].symbol] += fills[applied].signed_qty
            applied += 1
        result.append(PositionedOrder(order, positions[order.symbol]))
    return result


def first_flat(timeline: LedgerTimeline, from_ns: int) -> int | None:
    """The first instant at or after ``from_ns`` with every position 0 and no order open at the venue."""
    changes = [(fill.t_ns, fill.symbol, fill.signed_qty) for fill in timeline.fills]
    for order in timeline.orders:
        changes.append((order.received_ns, "", 1))
        closed = order.closed_ns
        if closed is not None:
            changes.append((closed, "", -1))
    changes.append((from_ns, "", 0))
    changes.sort(key=lambda change: change[0])
    positions: dict[str, int] = defaultdict(int)
    open_orders = 0
    for index, (t_ns, symbol, delta) in enumerate(changes):
        if symbol:
            positions[symbol] += delta
        else:
            open_orders += delta
        last_at_instant = index + 1 == len(changes) or changes[index + 1][0] != t_ns
        if last_at_instant and t_ns >= from_ns and open_orders == 0 and not any(positions.values()):
            return t_ns
    return None
