"""The venue's curated public API."""

from __future__ import annotations

import mock_exchange


def test_public_names_are_exported_and_resolve() -> None:
    assert sorted(mock_exchange.__all__) == [
        "SessionConfig",
        "SymbolConfig",
        "Venue",
        "VenueConfig",
        "VenueError",
    ]
    for name in mock_exchange.__all__:
        assert getattr(mock_exchange, name).__name__ == name
