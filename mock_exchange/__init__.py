"""Mock FIX 4.4 venue with a ledger of truth (contracts §1-§3).

Run it as ``python -m mock_exchange --config venue.json``, or in-process::

    async with Venue(VenueConfig(...)) as venue:
        venue.fix_port, venue.admin_port, venue.ledger

``Venue`` and ``VenueError`` are imported on first use: the harness imports this package for its
models (faults, configs) and should not pay for the servers.
"""

from typing import TYPE_CHECKING, Any

from mock_exchange.config import SessionConfig, SymbolConfig, VenueConfig

if TYPE_CHECKING:
    from mock_exchange.venue import Venue, VenueError

__all__ = ["SessionConfig", "SymbolConfig", "Venue", "VenueConfig", "VenueError"]


def __getattr__(name: str) -> Any:
    if name in ("Venue", "VenueError"):
        from mock_exchange import venue

        return getattr(venue, name)
    raise AttributeError(f"module 'mock_exchange' has no attribute {name!r}")
