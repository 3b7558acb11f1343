"""The OMS builds of seed 000: 1.4.2, and two tellings of 1.4.3, each one behaviour away from it.

1.4.3 — the "partial-fill PnL fix" — differs in how many lots a trade report adds to the position.
1.4.2 books LastQty(32); 1.4.3 derives the lots from the order's CumQty(14) minus what it already
booked for that order *at that venue*. While an order fills at one venue the two agree exactly;
but CumQty counts the order's lots at every venue, so the first report from a second venue makes
1.4.3 book the first venue's lots again, and realise PnL against the wrong average cost from then
on: positions hundreds of bp apart, and a direction that flips where 1.4.2's does not.

1.4.3-cost is the incident at the seed's own scale ("slightly different": +45,000 against
+44,800, 44 bp): the fix nets a venue rebate into the cost of a piece filled at another market
than the order's first, and reads the rebate's ``REBATE_BPS`` as percent. Lots, direction and
order state agree with 1.4.2; the average cost of such pieces is 90 bp low, so a position's cost
drifts by tens of bp — only a verifier that holds positions to 1 bp sees it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from trading_stack.deploy.positions import Position, VenueFill, apply_fill

__all__ = [
    "BUILDS",
    "REBATE_BPS",
    "BookedFill",
    "Build142",
    "Build143",
    "Build143Cost",
    "OmsBuild",
    "OmsVersion",
    "OrderProgress",
    "PositionKeeper",
    "build_for",
]


class OmsVersion(StrEnum):
    V1_4_2 = "1.4.2"
    V1_4_3 = "1.4.3"
    V1_4_3_COST = "1.4.3-cost"


REBATE_BPS = 0.9
"""The rebate 1.4.3-cost nets into the cost of a piece away from the order's first market, in bp
(read as percent: 90 bp)."""


class OrderProgress:
    """The highest CumQty booked per (order, venue), and the market of each order's first report,
    kept for the whole session like exec ids."""

    def __init__(self) -> None:
        self._per_venue: dict[tuple[str, str], int] = {}
        self._first_venue: dict[str, str] = {}

    def booked_at(self, order_id: str, venue: str) -> int:
        return self._per_venue.get((order_id, venue), 0)

    def first_venue(self, order_id: str) -> str | None:
        return self._first_venue.get(order_id)

    def record(self, fill: VenueFill) -> None:
        key = (fill.order_id, fill.venue)
        self._per_venue[key] = max(self.booked_at(fill.order_id, fill.venue), fill.cum_qty)
        self._first_venue.setdefault(fill.order_id, fill.venue)


class OmsBuild(Protocol):
    """What differs between builds: how many lots a trade report adds to the position, at what price.

    ``progress`` holds the reports booked before this one (not this one)."""

    @property
    def version(self) -> OmsVersion: ...

    def lots_to_book(self, fill: VenueFill, progress: OrderProgress) -> int: ...

    def price_to_book(self, fill: VenueFill, progress: OrderProgress) -> float: ...


class Build142:
    version = OmsVersion.V1_4_2

    def lots_to_book(self, fill: VenueFill, progress: OrderProgress) -> int:
        return fill.last_qty

    def price_to_book(self, fill: VenueFill, progress: OrderProgress) -> float:
        return fill.last_px


class Build143(Build142):
    version = OmsVersion.V1_4_3

    def lots_to_book(self, fill: VenueFill, progress: OrderProgress) -> int:
        return max(0, fill.cum_qty - progress.booked_at(fill.order_id, fill.venue))


class Build143Cost(Build142):
    version = OmsVersion.V1_4_3_COST

    def price_to_book(self, fill: VenueFill, progress: OrderProgress) -> float:
        first = progress.first_venue(fill.order_id)
        if first is None or first == fill.venue:
            return fill.last_px
        return fill.last_px * (1 - REBATE_BPS / 100)


BUILDS: Mapping[OmsVersion, OmsBuild] = {
    OmsVersion.V1_4_2: Build142(), OmsVersion.V1_4_3: Build143(), OmsVersion.V1_4_3_COST: Build143Cost(),
}


def build_for(version: OmsVersion) -> OmsBuild:
    return BUILDS[version]


@dataclass(frozen=True, slots=True)
class BookedFill:
    """What one trade report did: the lots booked and the symbol's position afterwards."""

    exec_id: str
    order_id: str
    lots: int
    position: Position


class PositionKeeper:
    """Positions of one OMS instance, kept the way its build keeps them."""

    def __init__(self, build: OmsBuild) -> None:
        self.build = build
        self._progress = OrderProgress()
        self._positions: dict[str, Position] = {}
        self._exec_ids: set[str] = set()

    @property
    def positions(self) -> dict[str, Position]:
        return {symbol: p for symbol, p in self._positions.items() if p.qty != 0 or p.realized_pnl}

    def net_lots(self) -> dict[str, int]:
        """The §4 ``GET /positions`` shape: net signed lots per symbol, flat ones left out."""
        return {symbol: p.qty for symbol, p in self._positions.items() if p.qty != 0}

    def position(self, symbol: str) -> Position:
        return self._positions.get(symbol, Position(symbol))

    def replace(self, positions: Mapping[str, Position]) -> None:
        """Take positions learnt elsewhere (the venue, the database, a checkpoint) as the book's."""
        self._positions = {symbol: p for symbol, p in positions.items() if p.qty != 0 or p.realized_pnl}

    def replace_lots(self, lots: Mapping[str, int]) -> None:
        """Take net lots learnt without costs: a symbol keeps its average cost while its direction
        does not change; every symbol keeps its realised PnL; a new or reversed one starts at cost 0."""
        replaced: dict[str, Position] = {}
        for symbol in {*lots, *self._positions}:
            old, qty = self.position(symbol), lots.get(symbol, 0)
            avg = old.avg_price if old.qty * qty > 0 else 0.0
            replaced[symbol] = Position(symbol, qty, avg, old.realized_pnl)
        self.replace(replaced)

    def apply(self, fill: VenueFill) -> BookedFill | None:
        """Book a trade report; ``None`` when its exec_id was already booked."""
        if fill.exec_id in self._exec_ids:
            return None
        self._exec_ids.add(fill.exec_id)
        lots = self.build.lots_to_book(fill, self._progress)
        price = self.build.price_to_book(fill, self._progress)
        self._progress.record(fill)
        position = apply_fill(self.position(fill.symbol), fill.side.sign * lots, price)
        self._positions[fill.symbol] = position
        return BookedFill(fill.exec_id, fill.order_id, lots, position)
