"""Defaults the command line shows before anything heavy is imported."""

from __future__ import annotations

DEFAULT_TIMEOUT_S = 3.0
"""The harness's own client gives an order this long before it records the outcome as unknown."""
DEFAULT_SYMBOL = "BTC-USD"
