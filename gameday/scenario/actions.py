"""Operator actions on a scenario's timeline, discriminated by their ``action`` key.

Actions are what people do to the system during a game day (an operator changes a risk limit,
a trader leaves resting orders); unlike faults they have no heal.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from gameday.scenario.duration import Duration

__all__ = ["Action", "ActionKind", "RestingOrdersAction", "RiskLimitAction"]


class ActionKind(StrEnum):
    RISK_LIMIT = "risk-limit"
    RESTING_ORDERS = "resting-orders"


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at: Duration


class RiskLimitAction(_Action):
    """Set a per-order quantity limit through the active OMS's operator API (stored in its database)."""

    action: Literal[ActionKind.RISK_LIMIT] = ActionKind.RISK_LIMIT
    symbol: str = Field(min_length=1)
    max_order_qty: int = Field(gt=0)


class RestingOrdersAction(_Action):
    """Place ``count`` limit orders far enough from the market that they rest (no fill)."""

    action: Literal[ActionKind.RESTING_ORDERS] = ActionKind.RESTING_ORDERS
    symbol: str = Field(min_length=1)
    count: int = Field(default=5, ge=1, le=100)
    qty: int = Field(default=1, ge=1)
    distance_pct: float = Field(default=20.0, gt=0, lt=100)


Action = Annotated[RiskLimitAction | RestingOrdersAction, Field(discriminator="action")]
