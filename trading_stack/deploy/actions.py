"""What the deployer asks of the world, as data, and the executor protocol that carries it out.

An executor turns each action into real calls (OMS admin API, front-door proxy API, process
signals). The deployer itself never does I/O: it emits a batch of actions to run in order and
is told, with :class:`~trading_stack.deploy.timeline.BatchDone`, how the batch ended.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from trading_stack.deploy.versions import OmsVersion

__all__ = [
    "ActionKind",
    "ActionOutcome",
    "DeployAction",
    "Executor",
    "HoldTraffic",
    "InstanceRole",
    "Launch",
    "NoopExecutor",
    "RecordingExecutor",
    "RestorePositions",
    "SetRole",
    "SetUpstreams",
    "StopInstance",
    "Unwind",
    "Upstream",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActionKind(StrEnum):
    LAUNCH = "launch"
    SET_ROLE = "set-role"
    HOLD_TRAFFIC = "hold-traffic"
    SET_UPSTREAMS = "set-upstreams"
    RESTORE_POSITIONS = "restore-positions"
    UNWIND = "unwind"
    STOP = "stop"


class InstanceRole(StrEnum):
    """What the deployer makes of an instance.

    shadow: consumes the events, computes and publishes every output to the shadow subject;
    never writes the database, answers clients or sends orders. active: holds the lease and
    trades. parked: blue on standby after a cutover — keeps its process and book, takes no
    traffic, sends nothing, ready to be restored and re-activated.
    """

    SHADOW = "shadow"
    ACTIVE = "active"
    PARKED = "parked"


class Upstream(_Frozen):
    instance: str = Field(min_length=1)
    weight: int = Field(ge=1, le=100, description="share of new client requests, in percent")


class Launch(_Frozen):
    """Start ``instance`` running ``version`` in ``role``; ``own_lease``: a lease bucket of its own."""

    kind: Literal[ActionKind.LAUNCH] = ActionKind.LAUNCH
    instance: str
    version: OmsVersion
    role: InstanceRole
    own_lease: bool = False


class SetRole(_Frozen):
    kind: Literal[ActionKind.SET_ROLE] = ActionKind.SET_ROLE
    instance: str
    role: InstanceRole


class HoldTraffic(_Frozen):
    """The front door queues new client requests (up to ``hold_s``) until the next upstream change."""

    kind: Literal[ActionKind.HOLD_TRAFFIC] = ActionKind.HOLD_TRAFFIC
    hold_s: float = Field(gt=0)


class SetUpstreams(_Frozen):
    """Replace the front door's upstream set in one step (and release a hold)."""

    kind: Literal[ActionKind.SET_UPSTREAMS] = ActionKind.SET_UPSTREAMS
    upstreams: tuple[Upstream, ...] = Field(min_length=1)

    @property
    def instances(self) -> tuple[str, ...]:
        return tuple(u.instance for u in self.upstreams)


class RestorePositions(_Frozen):
    """``instance`` reloads its positions from the database and checks them against the venue."""

    kind: Literal[ActionKind.RESTORE_POSITIONS] = ActionKind.RESTORE_POSITIONS
    instance: str


class Unwind(_Frozen):
    """The active ``instance`` cancels every open order and flattens every position (market orders),
    and answers once the book is flat with no order open, or fails after ``timeout_s``."""

    kind: Literal[ActionKind.UNWIND] = ActionKind.UNWIND
    instance: str
    timeout_s: float = Field(gt=0)


class StopInstance(_Frozen):
    """SIGTERM ``instance``: it cancels its open orders, checkpoints, exits 0."""

    kind: Literal[ActionKind.STOP] = ActionKind.STOP
    instance: str


DeployAction = Annotated[
    Launch | SetRole | HoldTraffic | SetUpstreams | RestorePositions | Unwind | StopInstance,
    Field(discriminator="kind"),
]


class ActionOutcome(_Frozen):
    ok: bool
    error: str | None = None

    @classmethod
    def done(cls) -> ActionOutcome:
        return cls(ok=True)

    @classmethod
    def failed(cls, error: str) -> ActionOutcome:
        return cls(ok=False, error=error)


class Executor(Protocol):
    async def execute(self, action: DeployAction) -> ActionOutcome: ...


class NoopExecutor:
    """Does nothing and reports success."""

    async def execute(self, action: DeployAction) -> ActionOutcome:
        return ActionOutcome.done()


class RecordingExecutor:
    """Records every action; ``fail`` names the error of an action that must fail (None: succeed)."""

    def __init__(self, fail: Callable[[DeployAction], str | None] = lambda action: None) -> None:
        self._fail = fail
        self.executed: list[DeployAction] = []

    async def execute(self, action: DeployAction) -> ActionOutcome:
        self.executed.append(action)
        error = self._fail(action)
        return ActionOutcome.done() if error is None else ActionOutcome.failed(error)
