"""Mock FIX 4.4 venue with a ledger of truth (contracts §1-§3).

Run it as ``python -m mock_exchange --config venue.json``, or in-process::

    async with Venue(VenueConfig(...)) as venue:
        venue.fix_port, venue.admin_port, venue.ledger

Every name is imported on first use: the harness imports this package for its models (faults,
configs) and should pay neither for the servers nor for the configs when it reads only the faults.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mock_exchange.config import SessionConfig, SymbolConfig, VenueConfig
    from mock_exchange.venue import Venue, VenueError

__all__ = ["SessionConfig", "SymbolConfig", "Venue", "VenueConfig", "VenueError"]
_MODULE_OF = {"SessionConfig": "config", "SymbolConfig": "config", "VenueConfig": "config",
              "Venue": "venue", "VenueError": "venue"}


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:
        return getattr(importlib.import_module(f"mock_exchange.{_MODULE_OF[name]}"), name)
    raise AttributeError(f"module 'mock_exchange' has no attribute {name!r}")
