"""One feed's view of the armed feed faults: what they do to its prices, its rate and its messages.

The venue's :class:`~mock_exchange.fault_board.FaultBoard` holds the faults; every change reaches
each feed's view (:meth:`FeedFaultView.change`), which keeps the faults naming that feed (or
``"*"``) and answers the publisher's questions per symbol. Pure: no clock, no sockets.
"""

from __future__ import annotations

from collections.abc import Mapping

from mock_exchange.faults import (
    FEED_FAULT_TYPES,
    Fault,
    FaultKind,
    FeedBurst,
    FeedDrift,
    FeedFault,
    FeedGap,
)
from mock_exchange.md.frames import FeedQuote
from mock_exchange.prices import PriceProcess

FEED_FAULT_KINDS: frozenset[FaultKind] = frozenset(
    model.model_fields["kind"].default for model in FEED_FAULT_TYPES
)


def true_quote(process: PriceProcess) -> FeedQuote:
    """The venue's own quote of a symbol: the bid and ask it matches at, and its mid on the tick."""
    quote = process.quote
    return FeedQuote(quote.bid, quote.ask, process.round_to_tick(process.mid))


class FeedFaultView:
    """The feed faults armed on feed ``feed``."""

    def __init__(self, feed: str, prices: Mapping[str, PriceProcess]) -> None:
        self.feed = feed
        self._prices = prices
        self._armed: dict[FaultKind, FeedFault] = {}
        self._frozen: dict[str, FeedQuote] = {}
        self._gap_count = 0
        self.any = False
        """whether any fault is armed on this feed (the publisher asks nothing else when none is)"""

    def change(self, kind: FaultKind, fault: Fault | None) -> bool:
        """Take a change of the fault board; whether it concerns this feed."""
        if kind not in FEED_FAULT_KINDS:
            return False
        before = self._armed.pop(kind, None)
        if isinstance(fault, FEED_FAULT_TYPES) and fault.applies_to_feed(self.feed):
            self._armed[kind] = fault
            if kind is FaultKind.FEED_STALE:
                self._frozen = {symbol: true_quote(process) for symbol, process in self._prices.items()}
            elif kind is FaultKind.FEED_GAP:
                self._gap_count = 0
        self.any = bool(self._armed)
        return before is not None or kind in self._armed

    def armed(self, kind: FaultKind, symbol: str) -> FeedFault | None:
        fault = self._armed.get(kind)
        return fault if fault is not None and fault.covers(symbol) else None

    @property
    def silent(self) -> bool:
        """A stall of the whole feed: nothing at all is sent, heartbeats included."""
        stall = self._armed.get(FaultKind.FEED_STALL)
        return stall is not None and stall.symbols is None

    def stalls(self, symbol: str) -> bool:
        return self.armed(FaultKind.FEED_STALL, symbol) is not None

    def multiplier(self, symbol: str) -> float:
        burst = self.armed(FaultKind.FEED_BURST, symbol)
        return burst.multiplier if isinstance(burst, FeedBurst) else 1.0

    def drops(self, symbol: str) -> bool:
        """Whether this update of ``symbol`` is the gap's every n-th (its seq is spent, not sent)."""
        gap = self.armed(FaultKind.FEED_GAP, symbol)
        if not isinstance(gap, FeedGap):
            return False
        self._gap_count += 1
        return self._gap_count % gap.every_n == 0

    def duplicates(self, symbol: str) -> bool:
        return self.armed(FaultKind.FEED_DUPLICATE, symbol) is not None

    def reorders(self, symbol: str) -> bool:
        return self.armed(FaultKind.FEED_REORDER, symbol) is not None

    def shown(self, symbol: str, true: FeedQuote) -> FeedQuote:
        """What the feed says about ``symbol`` when the truth is ``true``: frozen, drifted, crossed."""
        quote = self._frozen.get(symbol, true) if self.armed(FaultKind.FEED_STALE, symbol) else true
        drift = self.armed(FaultKind.FEED_DRIFT, symbol)
        if isinstance(drift, FeedDrift) and drift.bp:
            process = self._prices[symbol]
            factor = 1.0 + drift.bp / 10_000.0
            bid = process.round_to_tick(quote.bid * factor)
            ask = process.round_to_tick(bid + quote.ask - quote.bid)  # the spread stays as it is
            quote = FeedQuote(bid, ask, process.round_to_tick(quote.last * factor))
        if self.armed(FaultKind.FEED_CROSSED, symbol) is not None:
            quote = FeedQuote(quote.ask, quote.bid, quote.last)
        return quote
