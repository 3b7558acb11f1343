"""The units a checker observes in (a leaf module: scenario validation reads them without the checkers)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Unit"]


class Unit(StrEnum):
    SECONDS = "s"
    BPS = "bps"
    COUNT = "count"
    RATIO = "ratio"
    MILLISECONDS = "ms"
    VALUE = "value"  # a metric's own unit, whatever its exporter measures it in
