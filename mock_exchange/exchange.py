"""Several venues in one process: started together, stopped together, announced on one READY line.

Each venue keeps its own ports, ledger, sessions and seeded prices; nothing is shared between
them but the event loop, so an order split across two venues fills (or not) on each separately.
"""

from __future__ import annotations

import contextlib
from types import TracebackType

from mock_exchange.config import ExchangeConfig
from mock_exchange.venue import Venue, VenueError


class Exchange:
    """The venues of an :class:`ExchangeConfig`, served by this process (``async with`` once)."""

    def __init__(self, config: ExchangeConfig) -> None:
        self.config = config
        self.venues: dict[str, Venue] = {}
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Exchange:
        if self.venues:
            raise VenueError("exchange already started")
        try:
            for venue_config in self.config.venues:
                venue = Venue(venue_config)
                await self._stack.enter_async_context(venue)
                self.venues[venue_config.name] = venue
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    def ready_line(self) -> str:
        """``READY fix=P [ws=P] admin=P [feed_a=P ...]`` for one venue; ``<name>_fix=P ...`` per venue
        for several."""
        several = len(self.venues) > 1
        pairs = []
        for name, venue in self.venues.items():
            prefix = f"{name}_" if several else ""
            for key, port in _ports(venue):
                pairs.append(f"{prefix}{key}={port}")
        return " ".join(["READY", *pairs])


def _ports(venue: Venue) -> list[tuple[str, int]]:
    ports = [("fix", venue.fix_port)]
    if venue.ws_port is not None:
        ports.append(("ws", venue.ws_port))
    ports.append(("admin", venue.admin_port))
    ports += [(f"feed_{name.lower()}", port) for name, port in venue.feed_ports.items()]
    return ports
