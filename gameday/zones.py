"""IANA time zones by name, for the market clocks scenarios and runs describe."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["find_zone"]


def find_zone(name: str) -> ZoneInfo | None:
    """The zone ``name`` (``America/New_York``), or ``None`` when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
