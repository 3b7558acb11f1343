"""The venue's market state beside its faults: halts, price bands and a replayed day.

Composes :class:`~mock_exchange.trading_status.TradingStatus` with the rules that move it: an
unscoped ``halt`` fault (mirrored, so every halt is announced and in the ledger; a halt scoped to
one session stays the fault board's own), ``price_bands`` (:mod:`mock_exchange.price_bands`) and
``replay`` (:mod:`mock_exchange.replay`). The matching engine asks it why an order is refused and
whether a symbol may fill, and steps it after every price step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from mock_exchange.fault_board import FaultBoard
from mock_exchange.faults import Fault, FaultKind, Halt, PriceBands, Replay
from mock_exchange.ledger import Ledger
from mock_exchange.model import OrdType, Side
from mock_exchange.price_bands import PriceBandRule
from mock_exchange.prices import PriceProcess
from mock_exchange.replay import ReplayDriver
from mock_exchange.replay_file import Fills, parse_lines
from mock_exchange.trades import TradeRecorder
from mock_exchange.trading_status import HaltCause, TradingStatus


class MarketStatus:
    """Halts, bands and replay of one venue."""

    def __init__(self, prices: Mapping[str, PriceProcess], *, ledger: Ledger | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.status = TradingStatus()
        self._prices = prices
        self._ledger = ledger
        self._clock = clock
        self.fill_split: Fills | None = None
        """how a replay has trades reported now (``None``: as the venue's settings say)"""
        self.trades: TradeRecorder | None = None
        """the recorder of that split (on a venue with a ledger)"""
        self._bands: PriceBandRule | None = None
        self._replay: ReplayDriver | None = None

    @classmethod
    def attached(cls, prices: Mapping[str, PriceProcess], faults: FaultBoard, ledger: Ledger) -> MarketStatus:
        """The market status of a venue: moved by its faults, every change written to its ledger."""
        market = cls(prices, ledger=ledger)
        faults.add_check(market.problem)
        faults.subscribe(market.on_fault_change)
        market.status.subscribe(lambda change: ledger.record_status(change.as_ledger_fields()))
        return market

    @property
    def active(self) -> bool:
        """Whether anything is halted, banded or replayed (the hot paths ask nothing when not)."""
        return self.status.active or self._replay is not None

    def order_refusal(self, symbol: str, side: Side, ord_type: OrdType, price: float | None) -> str | None:
        """Why a new order is refused by a halt or a band, else ``None``."""
        halted = self.status.refusal(symbol)
        if halted is not None or self._bands is None:
            return halted
        return self._bands.refusal(symbol, side, ord_type, price)

    def may_fill(self, symbol: str) -> bool:
        return self.status.refusal(symbol) is None

    def step(self) -> None:
        now = self._clock()
        if self._replay is not None:
            self._replay.step(now)
        if self._bands is not None:
            self._bands.step(now)

    # -- faults ----------------------------------------------------------------------------

    def problem(self, fault: Fault) -> str | None:
        """Why ``fault`` cannot be armed at this venue (a symbol it does not list), else ``None``."""
        if isinstance(fault, PriceBands):
            named = list(fault.symbols or ())
        elif isinstance(fault, Replay):
            named = parse_lines(fault.lines, fault.source).symbols
        else:
            return None
        unknown = [symbol for symbol in named if symbol not in self._prices]
        if unknown:
            return f"unknown symbol(s) {', '.join(unknown[:5])}; the venue lists {', '.join(self._prices)}"
        return None

    def on_fault_change(self, kind: FaultKind, fault: Fault | None) -> None:
        if kind is FaultKind.HALT:
            self._mirror_halt(fault if isinstance(fault, Halt) else None)
        elif kind is FaultKind.PRICE_BANDS:
            if self._bands is not None:
                self._bands.stop()
                self._bands = None
            if isinstance(fault, PriceBands):
                self._bands = PriceBandRule(fault, self.status, self._prices)
                self._bands.start()
        elif kind is FaultKind.REPLAY:
            if self._replay is not None:
                self._replay.stop()
                self._replay = None
            if isinstance(fault, Replay):
                self._replay = ReplayDriver(fault, self.status, self._prices, self._clock(),
                                            on_fills=self._split_fills)

    def _split_fills(self, fills: Fills | None) -> None:
        self.fill_split = fills
        self.trades = None
        if fills is not None and self._ledger is not None:
            self.trades = TradeRecorder(self._ledger, markets=fills.markets, max_fill_lots=fills.max_lots)

    def _mirror_halt(self, halt: Halt | None) -> None:
        halted = set() if halt is None or halt.session is not None else set(halt.symbols)
        for symbol in self._prices:
            if symbol in halted:
                self.status.halt(symbol, HaltCause.FAULT)
            else:
                self.status.resume(symbol, HaltCause.FAULT)
