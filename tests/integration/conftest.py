"""Fixtures the venue tests share: a venue started in process, FIX clients logged on to it.

``venue`` starts whatever ``venue_settings`` holds; a module that needs another configuration
overrides ``venue_settings`` alone, and ``client``, ``client_b`` and ``connect`` follow it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mock_exchange.config import VenueConfig
from mock_exchange.venue import Venue
from tests.integration.venue_helpers import (
    Connect,
    FixTestClient,
    client_factory,
    hand_stepped_config,
    logged_on,
)


@pytest.fixture
def venue_settings(tmp_path: Path) -> VenueConfig:
    """Sessions OMS-A and OMS-B; marketable orders fill only when the test calls ``venue.step()``."""
    return hand_stepped_config(tmp_path)


@pytest.fixture
async def venue(venue_settings: VenueConfig) -> AsyncIterator[Venue]:
    async with Venue(venue_settings) as running:
        yield running


@pytest.fixture
async def client(venue: Venue) -> AsyncIterator[FixTestClient]:
    """A FIX session as OMS-A, logged on."""
    async with logged_on(venue.fix_port, "OMS-A") as connected:
        yield connected


@pytest.fixture
async def client_b(venue: Venue) -> AsyncIterator[FixTestClient]:
    """A FIX session as OMS-B, logged on."""
    async with logged_on(venue.fix_port, "OMS-B") as connected:
        yield connected


@pytest.fixture
async def connect(venue: Venue) -> AsyncIterator[Connect]:
    """``connect(sender, target)``: a client not yet logged on; all are closed after the test."""
    async with client_factory(venue.fix_port) as factory:
        yield factory
