"""What every exchange fault is built on: its kinds, the names and texts it may carry, its session.

A module of its own so the fault models can live in more than one module
(:mod:`mock_exchange.faults`, :mod:`mock_exchange.market_faults`) without an import cycle;
:mod:`mock_exchange.faults` is where they are all put together.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

MAX_NAME_LENGTH = 64
"""a session (SenderCompID or account) or a symbol a fault names"""
MAX_TEXT_LENGTH = 256
"""a reason the venue sends back (FIX Text(58), a WebSocket error message)"""
MAX_SYMBOLS = 1_000
"""symbols one halt names"""
MAX_DURATION_S = 86_400.0
"""every duration: windows, bans, cooldowns, delays, a price path's ``over_s`` (one day)"""

Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_LENGTH)]
Duration = Annotated[float, Field(ge=0, le=MAX_DURATION_S, allow_inf_nan=False)]


class FaultKind(StrEnum):
    CANCEL_FAILURE = "cancel_failure"
    REJECT_NEW_ORDERS = "reject_new_orders"
    RATE_LIMIT = "rate_limit"
    RECONNECT_COOLDOWN = "reconnect_cooldown"
    EXECUTION_REPORTS = "execution_reports"
    HALT = "halt"
    PRICE_PATH = "price_path"
    PRICE_BANDS = "price_bands"
    REPLAY = "replay"
    SLIPPAGE = "slippage"
    FEED_STALL = "feed_stall"
    FEED_GAP = "feed_gap"
    FEED_STALE = "feed_stale"
    FEED_DRIFT = "feed_drift"
    FEED_CROSSED = "feed_crossed"
    FEED_DUPLICATE = "feed_duplicate"
    FEED_REORDER = "feed_reorder"
    FEED_BURST = "feed_burst"


class FaultModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    session: Name | None = Field(default=None, description="SenderCompID; absent = all")

    def applies_to(self, session: str) -> bool:
        return self.session is None or self.session == session
