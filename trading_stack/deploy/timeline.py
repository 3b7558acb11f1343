"""The deployer's inputs and the events it emits: every phase change is data for the report timeline."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from trading_stack.deploy.actions import ActionKind, DeployAction
from trading_stack.deploy.triggers import TriggerName, TriggerReading
from trading_stack.deploy.verifier import Verdict, Verification
from trading_stack.deploy.versions import OmsVersion
from trading_stack.roles import Role

__all__ = [
    "TRIGGER_REASONS",
    "ActionFailure",
    "BatchDone",
    "Blocker",
    "DeployEvent",
    "DeployInput",
    "DeployPhase",
    "DeployReason",
    "DeployRequested",
    "FillReport",
    "HealthReport",
    "OrderOutcomes",
    "PnlReport",
    "RollbackRequested",
    "Step",
    "Tick",
    "VerifierReport",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeployPhase(StrEnum):
    IDLE = "idle"
    LAUNCHING = "launching"
    VERIFYING = "verifying"
    CANARY = "canary"
    SPLIT = "split"
    CUTTING_OVER = "cutting-over"
    LIVE = "live"
    ROLLING_BACK = "rolling-back"
    ROLLED_BACK = "rolled-back"
    COMPLETING = "completing"
    COMPLETED = "completed"
    ABORTING = "aborting"
    ABORTED = "aborted"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in FINAL_PHASES


FINAL_PHASES = frozenset(
    {DeployPhase.ROLLED_BACK, DeployPhase.COMPLETED, DeployPhase.ABORTED, DeployPhase.FAILED}
)


class DeployReason(StrEnum):
    DEPLOY_REQUESTED = "deploy-requested"
    REQUEST_REFUSED = "request-refused"
    LAUNCHED = "launched"
    LAUNCH_FAILED = "launch-failed"
    CUTOVER_BLOCKED = "cutover-blocked"
    VERIFIER_DIVERGED = "verifier-diverged"
    VERIFICATION_TIMED_OUT = "verification-timed-out"
    CUTOVER_STARTED = "cutover-started"
    SPLIT_STARTED = "split-started"
    CANARY_WINDOW_ELAPSED = "canary-window-elapsed"
    CUTOVER_DONE = "cutover-done"
    CUTOVER_FAILED = "cutover-failed"
    REJECTS_EXCEEDED = "rejects-exceeded"
    PNL_BREACHED = "pnl-breached"
    SLIPPAGE_EXCEEDED = "slippage-exceeded"
    LATENCY_EXCEEDED = "latency-exceeded"
    ROLLBACK_REQUESTED = "rollback-requested"
    ROLLBACK_DONE = "rollback-done"
    ROLLBACK_FAILED = "rollback-failed"
    ROLLBACK_WINDOW_CLOSED = "rollback-window-closed"
    BLUE_STOPPED = "blue-stopped"
    ABORTED = "aborted"
    ABORT_FAILED = "abort-failed"


class Blocker(StrEnum):
    """Why a cutover may not happen yet (``no-health`` / ``health-outdated`` are green's)."""

    NO_VERDICT = "no-verdict"
    VERDICT_OUTDATED = "verdict-outdated"
    VERIFIER_STALE = "verifier-stale"
    VERIFIER_INSUFFICIENT = "verifier-insufficient"
    VERIFIER_DIVERGED = "verifier-diverged"
    VERIFIER_NO_EVIDENCE = "verifier-no-evidence"
    BLUE_NO_EVIDENCE = "blue-no-evidence"
    GREEN_NO_EVIDENCE = "green-no-evidence"
    NO_HEALTH = "no-health"
    HEALTH_OUTDATED = "health-outdated"
    GREEN_UNHEALTHY = "green-unhealthy"
    BLUE_NO_HEALTH = "blue-no-health"
    BLUE_HEALTH_OUTDATED = "blue-health-outdated"
    BLUE_NOT_ALIVE = "blue-not-alive"
    BLUE_UNHEALTHY = "blue-unhealthy"
    BLUE_NOT_ACTIVE = "blue-not-active"


# -- inputs ------------------------------------------------------------------------------
class DeployRequested(_Frozen):
    input: Literal["deploy"] = "deploy"
    t_ns: int
    version: OmsVersion


class HealthReport(_Frozen):
    """One deep-health probe of an instance: did it answer, was it ready, in which role."""

    input: Literal["health"] = "health"
    t_ns: int
    instance: str
    deep_ok: bool
    reachable: bool = True
    role: Role | None = Field(default=None, description="the role it answered with; None: unknown")


class VerifierReport(_Frozen):
    input: Literal["verifier"] = "verifier"
    t_ns: int
    verification: Verification


class Tick(_Frozen):
    input: Literal["tick"] = "tick"
    t_ns: int


class ActionFailure(_Frozen):
    index: int = Field(ge=0)
    action: DeployAction
    error: str


class BatchDone(_Frozen):
    input: Literal["batch-done"] = "batch-done"
    t_ns: int
    batch: int
    failure: ActionFailure | None = None


class OrderOutcomes(_Frozen):
    """Client orders an instance answered since the previous report (``answer_ms``: how long each
    new order took to be answered, as the front door measured it)."""

    input: Literal["orders"] = "orders"
    t_ns: int
    instance: str
    accepted: int = Field(ge=0)
    rejected: int = Field(ge=0)
    answer_ms: tuple[float, ...] = ()


class PnlReport(_Frozen):
    """An instance's PnL, realised plus marked (``oms.pnl``)."""

    input: Literal["pnl"] = "pnl"
    t_ns: int
    instance: str
    pnl: float


class FillReport(_Frozen):
    """One fill an instance booked (``oms.fills``); ``signed_qty`` > 0 for a buy."""

    input: Literal["fill"] = "fill"
    t_ns: int
    instance: str
    symbol: str
    signed_qty: int
    price: float


class RollbackRequested(_Frozen):
    input: Literal["rollback"] = "rollback"
    t_ns: int
    operator: str = Field(min_length=1)


DeployInput = Annotated[
    DeployRequested | HealthReport | VerifierReport | Tick | BatchDone | OrderOutcomes | RollbackRequested
    | PnlReport | FillReport,
    Field(discriminator="input"),
]


TRIGGER_REASONS = {
    TriggerName.PNL: DeployReason.PNL_BREACHED,
    TriggerName.SLIPPAGE: DeployReason.SLIPPAGE_EXCEEDED,
    TriggerName.ACK_LATENCY: DeployReason.LATENCY_EXCEEDED,
}


# -- outputs -----------------------------------------------------------------------------
class DeployEvent(_Frozen):
    """One entry of the deploy timeline (published on ``deploy.phases``)."""

    t_ns: int
    phase: DeployPhase
    previous: DeployPhase
    reason: DeployReason
    version: OmsVersion | None = None
    batch: int | None = None
    blockers: tuple[Blocker, ...] = ()
    verdict: Verdict | None = None
    rejects: int | None = None
    trigger: TriggerReading | None = Field(default=None, description="the bound an automatic rollback met")
    failed_action: ActionKind | None = None
    error: str | None = None
    note: str | None = Field(default=None, description="the decision in words, for people")


class Step(_Frozen):
    """What one input caused: timeline events, and a batch of actions to run in order (if any)."""

    events: tuple[DeployEvent, ...] = ()
    batch: int | None = None
    actions: tuple[DeployAction, ...] = ()
