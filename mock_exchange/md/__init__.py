"""The venue's market data (issue 16, contracts §10): feeds of its own prices, and their faults.

:class:`MarketData` is the composition the venue starts: one :class:`~mock_exchange.md.feed.Feed`
and one :class:`~mock_exchange.md.server.FeedServer` per ``VenueConfig.feeds`` entry, the ledger
recorder, and the venue's fault board wired to them (feed faults are checked against the feeds
and symbols the venue has when they are armed; a venue without feeds refuses every one).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from mock_exchange.config import VenueConfig
from mock_exchange.fault_board import FaultBoard
from mock_exchange.faults import EVERY_FEED, FEED_FAULT_TYPES, Fault
from mock_exchange.ledger import Ledger
from mock_exchange.md.feed import Feed
from mock_exchange.md.recorder import MarketDataRecorder
from mock_exchange.md.server import FeedServer
from mock_exchange.prices import PriceProcess

__all__ = ["Feed", "FeedServer", "MarketData", "MarketDataRecorder"]

_MAX_NAMED = 5


class MarketData:
    """The feeds of one venue (``start`` / ``stop`` once; nothing runs when there are none)."""

    def __init__(
        self, config: VenueConfig, prices: Mapping[str, PriceProcess], faults: FaultBoard, ledger: Ledger
    ) -> None:
        self._host = config.host
        self.feeds = {feed.name: Feed(feed, prices) for feed in config.feeds}
        self._ports = {feed.name: feed.port for feed in config.feeds}
        self._servers = [FeedServer(feed) for feed in self.feeds.values()]
        self._recorder = MarketDataRecorder(ledger, prices, list(self.feeds.values()))
        self._symbols = tuple(prices)
        self._tasks: list[asyncio.Task[None]] = []
        self.ports: dict[str, int] = {}
        faults.add_check(self._fault_problem)
        for feed in self.feeds.values():
            faults.subscribe(feed.on_fault_change)

    async def start(self) -> dict[str, int]:
        """Serve every feed and start publishing; the bound port of each, by feed name."""
        for server in self._servers:
            self.ports[server.feed.name] = await server.start(self._host, self._ports[server.feed.name])
        if self.feeds:
            for feed in self.feeds.values():
                self._tasks.append(asyncio.create_task(feed.run(), name=f"feed-{feed.name}"))
            self._tasks.append(asyncio.create_task(self._recorder.run(), name="feed-recorder"))
        return dict(self.ports)

    async def stop(self) -> None:
        """Stop publishing, close every connection, write the last ledger lines."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for server in self._servers:
            await server.stop()
        if self._tasks:
            self._recorder.record()
        self._tasks.clear()

    def _fault_problem(self, fault: Fault) -> str | None:
        """Why a feed fault cannot be armed at this venue (an unknown feed or symbol), else ``None``."""
        if not isinstance(fault, FEED_FAULT_TYPES):
            return None
        if not self.feeds:
            return "feed: this venue publishes no market data (VenueConfig.feeds is empty)"
        if fault.feed != EVERY_FEED and fault.feed not in self.feeds:
            return f"feed: unknown feed {fault.feed!r}; known: {', '.join(self.feeds)}"
        unknown = sorted(set(fault.symbols or ()) - set(self._symbols))
        if unknown:
            named = ", ".join(repr(symbol) for symbol in unknown[:_MAX_NAMED])
            more = f" and {len(unknown) - _MAX_NAMED} more" if len(unknown) > _MAX_NAMED else ""
            return f"symbols: unknown symbol(s) {named}{more}; known: {', '.join(self._symbols)}"
        return None
