"""Operator actions on a scenario's timeline, discriminated by their ``action`` key.

Actions are what people do to the system during a game day (an operator changes a risk limit,
a trader leaves resting orders, a release engineer deploys or rolls back, someone hits the kill
switch); unlike faults they have no heal.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import InitErrorDetails

from gameday.scenario.duration import Duration
from gameday.scenario.faults import KillSignal, PositiveDuration, ServiceName
from gameday.scenario.invalid import invalid
from gameday.scenario.presets import PRESETS, StackPreset, presets_with_deployer, topology
from gameday.scenario.vocabulary import VersionName

__all__ = [
    "DEPLOYER_ACTIONS",
    "OMS_TARGETED_ACTIONS",
    "Action",
    "ActionKind",
    "DeployAction",
    "KillSwitchAction",
    "PositionAction",
    "RearmAction",
    "RestartAction",
    "RestingOrdersAction",
    "RiskLimitAction",
    "RollbackAction",
    "Side",
    "action_problems",
]


class ActionKind(StrEnum):
    RISK_LIMIT = "risk-limit"
    RESTING_ORDERS = "resting-orders"
    DEPLOY = "deploy"
    ROLLBACK = "rollback"
    KILL_SWITCH = "kill-switch"
    RESTART = "restart"
    POSITION = "position"
    REARM = "rearm"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


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


class DeployAction(_Action):
    """Ask the deployer to deploy ``version`` (blue-green: a dark launch of green first)."""

    action: Literal[ActionKind.DEPLOY] = ActionKind.DEPLOY
    version: VersionName


class RollbackAction(_Action):
    """An operator asks the deployer to roll back to blue."""

    action: Literal[ActionKind.ROLLBACK] = ActionKind.ROLLBACK
    operator: str = Field(min_length=1)


class KillSwitchAction(_Action):
    """An operator hits the kill switch on an OMS instance's admin API (halt, cancel all, flatten)."""

    action: Literal[ActionKind.KILL_SWITCH] = ActionKind.KILL_SWITCH
    target: ServiceName
    operator: str = Field(min_length=1)


class RearmAction(_Action):
    """An operator re-arms an OMS instance's tripped breaker (e.g. its feed breaker once a feed is healthy
    again): ``POST /admin/rearm``."""

    action: Literal[ActionKind.REARM] = ActionKind.REARM
    target: ServiceName
    operator: str = Field(min_length=1)


class RestartAction(_Action):
    """Signal a service, wait (up to ``grace``) for it to exit, then start it again: a new boot."""

    action: Literal[ActionKind.RESTART] = ActionKind.RESTART
    target: ServiceName
    signal: KillSignal = KillSignal.SIGTERM
    grace: PositiveDuration = Duration(45_000_000_000)
    """seed 000's TimeoutStopSec: the OMS's own bounds (cancel 10 s, fills 5 s, flush 10 s) and a buffer"""


class PositionAction(_Action):
    """A desk builds a position: one market order of ``qty`` lots."""

    action: Literal[ActionKind.POSITION] = ActionKind.POSITION
    symbol: str = Field(min_length=1)
    side: Side
    qty: int = Field(gt=0)


Action = Annotated[
    RiskLimitAction | RestingOrdersAction | DeployAction | RollbackAction | KillSwitchAction | RestartAction
    | PositionAction | RearmAction,
    Field(discriminator="action"),
]

DEPLOYER_ACTIONS = frozenset({ActionKind.DEPLOY, ActionKind.ROLLBACK})
"""Actions only a stack with a deployer can carry out."""
OMS_TARGETED_ACTIONS = frozenset({ActionKind.KILL_SWITCH, ActionKind.REARM})
"""Actions whose ``target`` must be an OMS instance of the stack (a ``restart``'s must be a service
the preset can restart)."""


def _problem(index: int, field: str, kind: str, message: str, value: object) -> InitErrorDetails:
    return InitErrorDetails(type=invalid(kind, message), loc=(index, field), input=value)


def _cannot_restart(preset: StackPreset, restartable: Collection[str]) -> str:
    if not restartable:
        restarting = " or ".join(name for name, other in PRESETS.items() if other.restartable)
        return (f"preset {preset} cannot restart any service; expected no restart action here "
                f"(restart needs preset {restarting})")
    return f"expected a service preset {preset} can restart, one of: {', '.join(restartable)}"


def action_problems(actions: Sequence[Action], preset: StackPreset, symbols: Sequence[str],
                    restartable: Collection[str] | None = None) -> list[InitErrorDetails]:
    """Cross-field checks: actions name the stack's OMS instances (a restart one the stack can
    restart: the preset's embedded stack, or ``restartable`` where a target file says), a position a
    symbol the venue lists (the workload's), and only a stack with a deployer deploys."""
    stack = topology(preset)
    can_restart = stack.restartable if restartable is None else tuple(restartable)
    problems = []
    for index, action in enumerate(actions):
        kind = action.action
        if kind in DEPLOYER_ACTIONS and not stack.has_deployer:
            problems.append(_problem(index, "action", "needs_deployer",
                                     f"{kind} needs a stack with a deployer (preset "
                                     f"{' or '.join(presets_with_deployer())})", kind.value))
        target = getattr(action, "target", None)
        if kind in OMS_TARGETED_ACTIONS and target not in stack.oms_instances:
            problems.append(_problem(index, "target", "unknown_oms_instance",
                                     f"expected an OMS instance of the stack, one of: "
                                     f"{', '.join(stack.oms_instances)}", target))
        if isinstance(action, RestartAction) and action.target not in can_restart:
            problems.append(_problem(index, "target", "not_restartable", _cannot_restart(preset, can_restart),
                                     action.target))
        if isinstance(action, PositionAction) and action.symbol not in symbols:
            problems.append(_problem(index, "symbol", "unknown_symbol",
                                     f"expected a symbol the workload trades, one of: {', '.join(symbols)}",
                                     action.symbol))
    return problems
