"""Mock FIX 4.4 venue with a ledger of truth (contracts §1-§3).

Run it as ``python -m mock_exchange --config venue.json``, or in-process::

    async with Venue(VenueConfig(...)) as venue:
        venue.fix_port, venue.admin_port, venue.ledger
"""

from mock_exchange.config import SessionConfig, SymbolConfig, VenueConfig
from mock_exchange.venue import Venue, VenueError

__all__ = ["SessionConfig", "SymbolConfig", "Venue", "VenueConfig", "VenueError"]
