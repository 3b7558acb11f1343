"""The third source: the venue's own execution prices, as the OMS receives them on fills (pure).

A fill is what the venue did at its price, not what a feed says it is. What a fill proves holds
whatever the venue's matching rule: a buy executed at P means the venue's ask was at or below P
(the order was marketable there), a sell at P that its bid was at or above P. So a feed whose mid, in
its first quote after the fill's arrival (a feed's quote from before the fill may predate a
move the venue already made), is above a buy's price by more than the divergence threshold, or
below a sell's by more, is **contradicted** on that symbol. (Only this one-sided bound is safe: a
venue may fill a marketable limit order at its limit, far through the market, so a fill does not
give the price itself.) A contradiction counts for ``window`` after the fill.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from trading_stack.market_data.feed_state import Quote
from trading_stack.models import Side

__all__ = ["ExecutionEvidence", "contradicts"]

MAX_PENDING = 64
"""fills per symbol awaiting their judgement (a burst of fills beyond it: the oldest go unjudged)"""


def contradicts(side: Side, price: float, mid: float, threshold_bp: float) -> bool:
    """Whether an execution of ``side`` at ``price`` proves a feed's ``mid`` wrong by more than the
    threshold."""
    margin = threshold_bp / 10_000
    if side is Side.BUY:
        return mid > price * (1 + margin)
    return mid < price * (1 - margin)


@dataclass
class _Execution:
    side: Side
    price: float
    t_ns: int
    judged: set[str] = field(default_factory=set)


class ExecutionEvidence:
    def __init__(self, threshold_bp: float, window_ns: int) -> None:
        self._threshold_bp = threshold_bp
        self._window_ns = window_ns
        self._contradicted: dict[tuple[str, str], tuple[int, float]] = {}
        self._pending: dict[str, deque[_Execution]] = {}

    def record(self, symbol: str, side: Side, price: float, now: int) -> None:
        """A fill arrived: each feed is judged by its first quote of ``symbol`` after now."""
        self._pending.setdefault(symbol, deque(maxlen=MAX_PENDING)).append(_Execution(side, price, now))

    def judge(self, quotes: Mapping[str, Mapping[str, Quote]], now: int) -> list[tuple[str, str, float]]:
        """Hold each feed's quotes (feed -> symbol -> quote) against the fills not yet judged; the
        (feed, symbol, price) contradictions found."""
        found = []
        for symbol, executions in self._pending.items():
            while executions and now - executions[0].t_ns > self._window_ns:
                executions.popleft()
            for execution in executions:
                for feed, book in quotes.items():
                    quote = book.get(symbol)
                    if feed in execution.judged or quote is None or quote.received_ns <= execution.t_ns:
                        continue
                    execution.judged.add(feed)
                    if contradicts(execution.side, execution.price, quote.mid, self._threshold_bp):
                        self._contradicted[(feed, symbol)] = (execution.t_ns, execution.price)
                        found.append((feed, symbol, execution.price))
        return found

    def contradicted(self, feed: str, symbol: str, now: int) -> float | None:
        """The execution price that contradicted ``feed`` on ``symbol`` within the window, else None."""
        found = self._contradicted.get((feed, symbol))
        if found is None or now - found[0] > self._window_ns:
            return None
        return found[1]
