"""Limit-up/limit-down price bands, kept simple (docs/contracts.md §3, ``price_bands``).

While a ``price_bands`` fault is armed each symbol it covers has a band of ``band_pct`` percent
either side of a reference price, the mid when the band is set (rounded outward to the tick):

- a buy limit priced above the upper band, or a sell limit below the lower band, is refused with
  :data:`BAND_TEXT` (buys below and sells above cannot trade outside it and are accepted, as the
  trade probe's far-off buy must be);
- a quote at an edge (the ask at or above the upper band: limit up; the bid at or below the
  lower band: limit down) pauses the symbol for ``pause_s``: every new order on it is refused
  ``Trading halted: SYM (limit up)`` and nothing fills. When the pause ends the band is set again
  around the mid then, and trading resumes.

US LULD waits 15 s in a limit state before a 5-minute halt and recomputes its reference every
30 s; a game day of 20 s needs neither: the pause is the halt, and the reference moves only
when one ends.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from mock_exchange.faults import PriceBands
from mock_exchange.model import OrdType, Side
from mock_exchange.prices import PriceProcess
from mock_exchange.trading_status import Band, HaltCause, TradingStatus

BAND_TEXT = "Price outside the limit-up/limit-down band"


class PriceBandRule:
    """One armed ``price_bands`` fault acting on the venue's trading status."""

    def __init__(self, fault: PriceBands, status: TradingStatus, prices: Mapping[str, PriceProcess]) -> None:
        self._fault = fault
        self._status = status
        self._prices = {symbol: process for symbol, process in prices.items() if fault.covers(symbol)}
        self._paused_until: dict[str, tuple[float, HaltCause]] = {}

    def start(self) -> None:
        for symbol, process in self._prices.items():
            self._status.set_band(symbol, band_around(process, self._fault.band_pct))

    def stop(self) -> None:
        for symbol in self._prices:
            paused = self._paused_until.pop(symbol, None)
            if paused is not None:
                self._status.resume(symbol, paused[1])
            self._status.set_band(symbol, None)

    def step(self, now: float) -> None:
        """End the pauses that are due (band set again), and pause a symbol quoted at an edge."""
        for symbol, process in self._prices.items():
            paused = self._paused_until.get(symbol)
            if paused is not None:
                if now >= paused[0]:
                    del self._paused_until[symbol]
                    self._status.set_band(symbol, band_around(process, self._fault.band_pct))
                    self._status.resume(symbol, paused[1])
                continue
            band = self._status.band(symbol)
            cause = None if band is None else edge_reached(band, process.quote.bid, process.quote.ask)
            if cause is not None:
                self._paused_until[symbol] = (now + self._fault.pause_s, cause)
                self._status.halt(symbol, cause, cause.value.replace("_", " "))

    def refusal(self, symbol: str, side: Side, ord_type: OrdType, price: float | None) -> str | None:
        band = self._status.band(symbol)
        if band is None or ord_type is not OrdType.LIMIT or price is None:
            return None
        if side is Side.BUY and price > band.upper:
            return f"{BAND_TEXT}: {symbol} buy above {band.upper:g}"
        if side is Side.SELL and price < band.lower:
            return f"{BAND_TEXT}: {symbol} sell below {band.lower:g}"
        return None


def band_around(process: PriceProcess, band_pct: float) -> Band:
    """The band ``band_pct`` percent either side of the mid, each edge rounded outward to the tick."""
    reference = process.mid
    tick = process.tick
    lower = process.round_to_tick(math.floor(reference * (1 - band_pct / 100) / tick) * tick)
    upper = process.round_to_tick(math.ceil(reference * (1 + band_pct / 100) / tick) * tick)
    return Band(reference=process.round_to_tick(reference), lower=lower, upper=upper)


def edge_reached(band: Band, bid: float, ask: float) -> HaltCause | None:
    """Limit up when the ask reaches the upper band, limit down when the bid reaches the lower."""
    if ask >= band.upper:
        return HaltCause.LIMIT_UP
    if bid <= band.lower:
        return HaltCause.LIMIT_DOWN
    return None
