"""The feeds in the ledger: what each published, and the truth, every :data:`RECORD_INTERVAL_S`.

Each round writes, per feed and symbol that published since the last, one ``md`` line (the seq
range, how many updates were sent and how many seqs a gap spent, and the latest update's
bid/ask/last, at the time it was numbered), then one ``price`` line per symbol with the venue's
true quote (bid, ask and the unrounded mid). So "what did feed X say about S at time t, and what
was the truth" is answered to within 100 ms without a line per update. A line the ledger refuses
(a number JSON cannot hold; the prices are bounded, so never) is logged by the ledger and skipped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mock_exchange.ledger import Ledger, LedgerError
from mock_exchange.md.fault_view import true_quote
from mock_exchange.md.feed import Feed, Window
from mock_exchange.prices import PriceProcess

log = logging.getLogger(__name__)

RECORD_INTERVAL_S = 0.1


class MarketDataRecorder:
    """Writes the feeds' ``md`` lines and the ``price`` lines (``run`` until cancelled)."""

    def __init__(
        self,
        ledger: Ledger,
        prices: Mapping[str, PriceProcess],
        feeds: Sequence[Feed],
        *,
        clock_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self._ledger = ledger
        self._prices = prices
        self._feeds = feeds
        self._clock_ns = clock_ns
        self._write_failed = False

    async def run(self) -> None:
        while True:
            await asyncio.sleep(RECORD_INTERVAL_S)
            self.record()

    def record(self) -> None:
        """One round of lines (also the last one, when the venue stops)."""
        for feed in self._feeds:
            for window in feed.take_windows():
                self._write(md_event(feed.name, window))
        t_ns = self._clock_ns()
        for symbol, process in self._prices.items():
            quote = true_quote(process)
            self._write(
                {"kind": "price", "t_ns": t_ns, "symbol": symbol, "bid": quote.bid, "ask": quote.ask,
                 "mid": process.mid}
            )

    def _write(self, event: dict[str, Any]) -> None:
        try:
            self._ledger.record_market_data(event)
        except LedgerError:
            return  # refused: logged by the ledger
        except OSError as error:
            if not self._write_failed:
                log.error("market data: cannot write the ledger: %s", error)
            self._write_failed = True
            return
        self._write_failed = False


def md_event(feed: str, window: Window) -> dict[str, Any]:
    return {
        "kind": "md",
        "t_ns": window.t_ns,
        "feed": feed,
        "symbol": window.symbol,
        "seq_first": window.seq_first,
        "seq_last": window.seq_last,
        "updates": window.updates,
        "dropped": window.dropped,
        "bid": window.quote.bid,
        "ask": window.quote.ask,
        "last": window.quote.last,
    }
