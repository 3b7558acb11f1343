"""Seeded price process per symbol: a geometric random walk on the symbol's tick."""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass

from mock_exchange.config import SymbolConfig


def derive_seed(seed: int, label: str) -> int:
    """A stable (hash-randomisation free) 64-bit seed for ``label`` under the run's ``seed``."""
    digest = hashlib.sha256(f"{seed}:{label}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass(frozen=True, slots=True)
class Quote:
    bid: float
    ask: float


class PriceProcess:
    """Mid price of one symbol, stepped by a seeded random walk; bid/ask around it."""

    def __init__(self, config: SymbolConfig, seed: int) -> None:
        self.symbol = config.symbol
        self._tick = config.tick
        self._step_sigma = config.volatility_bps / 10_000.0
        self._half_spread = config.spread_ticks * config.tick / 2.0
        self._rng = random.Random(derive_seed(seed, f"price:{config.symbol}"))
        self.mid = config.start_price
        self.quote = self._quote()

    def step(self) -> Quote:
        if self._step_sigma:
            moved = self.mid * math.exp(self._rng.gauss(0.0, self._step_sigma))
            self.mid = max(moved, self._tick * 10)
        self.quote = self._quote()
        return self.quote

    def _quote(self) -> Quote:
        bid = self.round_to_tick(self.mid - self._half_spread)
        ask = self.round_to_tick(bid + 2 * self._half_spread)
        return Quote(bid=bid, ask=ask)

    def round_to_tick(self, price: float) -> float:
        decimals = max(0, -math.floor(math.log10(self._tick)) + 2)
        return round(round(price / self._tick) * self._tick, decimals)

    def is_on_tick(self, price: float) -> bool:
        return math.isclose(price / self._tick, round(price / self._tick), abs_tol=1e-6)
