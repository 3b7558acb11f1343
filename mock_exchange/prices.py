"""Seeded price process per symbol: a geometric random walk on the symbol's tick, or a path.

The mid price stays finite and between 10 ticks and the venue's ``max_price``, whatever a walk
or a path asks for.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from mock_exchange.config import DEFAULT_MAX_PRICE, SymbolConfig


def derive_seed(seed: int, label: str) -> int:
    """A stable (hash-randomisation free) 64-bit seed for ``label`` under the run's ``seed``."""
    digest = hashlib.sha256(f"{seed}:{label}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass(frozen=True, slots=True)
class Quote:
    bid: float
    ask: float


@dataclass(frozen=True, slots=True)
class LinearPath:
    """A mid price moving in a straight line from ``start_mid`` at ``start_t`` to ``end_mid``
    ``over_s`` seconds later (at once when ``over_s`` is 0), then staying there."""

    start_mid: float
    end_mid: float
    start_t: float
    over_s: float

    def mid_at(self, t: float) -> float:
        elapsed = t - self.start_t
        if elapsed >= self.over_s:
            return self.end_mid
        return self.start_mid + (self.end_mid - self.start_mid) * max(elapsed, 0.0) / self.over_s


class PriceProcess:
    """Mid price of one symbol, stepped by a seeded random walk; bid/ask around it.

    While it follows a :class:`LinearPath` the walk pauses (its seeded draws are not spent) and
    each step reads the path at ``clock()``; released, the walk resumes from where the path got.
    """

    def __init__(
        self,
        config: SymbolConfig,
        seed: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        ceiling: float = DEFAULT_MAX_PRICE,
    ) -> None:
        self.symbol = config.symbol
        self._ceiling = ceiling
        self._tick = config.tick
        self._step_sigma = config.volatility_bps / 10_000.0
        self._half_spread = config.spread_ticks * config.tick / 2.0
        self._rng = random.Random(derive_seed(seed, f"price:{config.symbol}"))
        self._clock = clock
        self._path: LinearPath | None = None
        self.mid = config.start_price
        self.quote = self._quote()

    def step(self) -> Quote:
        if self._path is not None:
            self.mid = self._bounded(self._path.mid_at(self._clock()))
        elif self._step_sigma:
            self.mid = self._bounded(self.mid * math.exp(self._rng.gauss(0.0, self._step_sigma)))
        self.quote = self._quote()
        return self.quote

    @property
    def tick(self) -> float:
        return self._tick

    @property
    def _floor(self) -> float:
        return self._tick * 10

    @property
    def following(self) -> bool:
        """Whether a path moves the price (rather than the seeded walk)."""
        return self._path is not None

    def target_of(self, move_pct: float) -> float:
        """Where a path of ``move_pct`` percent from here would take the mid (unbounded)."""
        return self.mid * (1.0 + move_pct / 100.0)

    def follow(self, move_pct: float, over_s: float) -> LinearPath:
        """Move the mid ``move_pct`` percent from where it is now, linearly over ``over_s``."""
        self.release()
        end_mid = self._bounded(self.target_of(move_pct))
        self._path = LinearPath(self.mid, end_mid, self._clock(), over_s)
        return self._path

    def release(self) -> None:
        """Stop following a path: the mid is where the path is now, and the walk goes on from it."""
        if self._path is not None:
            self.mid = self._bounded(self._path.mid_at(self._clock()))
            self._path = None
            self.quote = self._quote()

    def abandon(self) -> None:
        """Stop following a path without reading it again: the last quote stays (after a failed step)."""
        self._path = None

    def _bounded(self, mid: float) -> float:
        """``mid`` within [10 ticks, ceiling] (an infinity at its bound); NaN keeps the mid where it is."""
        if math.isnan(mid):
            return self.mid
        return min(max(mid, self._floor), self._ceiling)

    def _quote(self) -> Quote:
        bid = self.round_to_tick(self.mid - self._half_spread)
        ask = self.round_to_tick(bid + 2 * self._half_spread)
        return Quote(bid=bid, ask=ask)

    def round_to_tick(self, price: float) -> float:
        decimals = max(0, -math.floor(math.log10(self._tick)) + 2)
        return round(round(price / self._tick) * self._tick, decimals)

    def is_on_tick(self, price: float) -> bool:
        ticks = price / self._tick
        return math.isfinite(ticks) and math.isclose(ticks, round(ticks), abs_tol=1e-6)
