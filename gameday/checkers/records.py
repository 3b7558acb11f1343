"""Typed views of the ops the failover game-day checkers read, and the instant they are told from.

The SUT events (``oms.failover``, ``oms.alerts``, ``oms.replication``) and the operator actions
(``risk-limit``, ``resting-orders``) are written by other processes, so these models are tolerant
readers: unknown fields are ignored, a needed field that is missing or malformed raises
:class:`CheckerError`, which grades ``unknown``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gameday.checkers.evidence import Side
from gameday.errors import CheckerError
from gameday.history import Op, OpKind, OpType

__all__ = [
    "OUTAGE_FAULTS",
    "Alert",
    "AlertEvent",
    "Decision",
    "FailoverEvent",
    "LeaseDeclaration",
    "LeaseOperation",
    "LeaseWrite",
    "ReconciledDetail",
    "Reference",
    "ReplicationSample",
    "RestingOrder",
    "RestingOrders",
    "RiskLimit",
    "RowsNotWrittenDetail",
    "StoreBacklogSample",
    "SutEvent",
    "TradeOk",
    "UnknownOrderDetail",
    "action_runs",
    "actions",
    "applied_faults",
    "first_outage",
    "parse",
    "parse_value",
    "reference",
    "seconds",
    "sut_events",
]

OUTAGE_FAULTS = frozenset({"kill", "pause", "partition"})
_HEAL = "heal"
_OPERATOR = "operator"


def seconds(ns: int) -> float:
    return round(ns / 1e9, 6)


class _Recorded(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SutEvent(_Recorded):
    """A message the SUT published; ``t_ns`` is when it says the event happened (the shared clock)."""

    t_ns: int


class Decision(StrEnum):
    HEALTHY = "healthy"
    SUSPECT = "suspect"
    PROMOTE = "promote"
    PROMOTED = "promoted"
    SUPPRESSED = "suppressed"


class FailoverDetail(_Recorded):
    reason: str
    failures: list[int]
    vantages: list[str]

    @model_validator(mode="after")
    def _one_count_per_vantage(self) -> FailoverDetail:
        if len(self.failures) != len(self.vantages):
            raise ValueError(f"{len(self.failures)} failure counts for {len(self.vantages)} vantages")
        return self

    @property
    def failures_by_vantage(self) -> dict[str, int]:
        return dict(zip(self.vantages, self.failures, strict=True))


class FailoverEvent(SutEvent):
    """One decision change of a failover daemon (``oms.failover``)."""

    daemon: str
    decision: Decision
    detail: FailoverDetail
    heartbeat: bool = False  # the daemon's periodic "still here, in this state": not a decision


class Alert(StrEnum):
    """The alerts the checkers single out; an OMS may raise others, which stay plain strings."""

    UNKNOWN_OPEN_ORDER = "UnknownOpenOrder"
    PROMOTION_RECONCILED = "PromotionReconciled"
    EXECUTIONS_RECOVERED = "ExecutionsRecovered"
    STORE_ROWS_NOT_WRITTEN = "StoreRowsNotWritten"
    SHUTDOWN_COMPLETE = "ShutdownComplete"


class AlertEvent(SutEvent):
    """One OMS alert (``oms.alerts``); ``detail`` depends on the alert."""

    instance: str
    alert: str
    detail: dict[str, Any] = {}


class UnknownOrderDetail(_Recorded):
    order_id: str | None = None
    exchange_order_id: str | None = None
    symbol: str | None = None
    qty: int | None = None


class ReconciledDetail(_Recorded):
    """The detail of ``PromotionReconciled``: the open venue orders the instance did not know."""

    unknown_open_orders: list[str] = []


class RowsNotWrittenDetail(_Recorded):
    """The detail of ``StoreRowsNotWritten``: rows a shutdown left unwritten (``dropped``: all rows
    the store gave up on, these included, when the stack says)."""

    rows: int = Field(ge=0)
    dropped: int | None = Field(default=None, ge=0)


class StoreBacklogSample(SutEvent):
    """The database writer's backlog of one instance (``oms.store_backlog``)."""

    instance: str
    queued: int = Field(ge=0)
    in_flight: int = Field(default=0, ge=0)
    oldest_age_s: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    written: int = Field(default=0, ge=0)
    dropped: int = Field(default=0, ge=0)
    connected: bool | None = None


class ReplicationSample(SutEvent):
    """One replication lag sample published by a standby (``oms.replication``)."""

    instance: str
    lag_ms: float = Field(ge=0, allow_inf_nan=False)
    backlog: int = Field(ge=0)


class LeaseOperation(StrEnum):
    """What a stored write did to a lease key (the ``KV-Operation`` header; none on a put)."""

    PUT = "PUT"
    DEL = "DEL"
    PURGE = "PURGE"


class LeaseWrite(_Recorded):
    """One write the lease bucket stored (a ``sut`` op ``lease``, gameday.recorder).

    ``instance``, ``epoch`` and ``t_ns`` (the writer's send time) come from the written value and
    are ``None`` on a delete; when the bucket stored it is the op's own time (its receipt) or before.
    """

    bucket: str
    key: str
    op: LeaseOperation
    instance: str | None = None
    epoch: int | None = None
    t_ns: int | None = None
    revision: int | None = None
    ttl_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)


class LeaseDeclaration(_Recorded):
    """The lease bucket a stack declares (the run start op's ``lease``)."""

    bucket: str
    ttl_s: float = Field(gt=0, allow_inf_nan=False)


class TradeOk(_Recorded):
    instance: str


class RiskLimit(_Recorded):
    """An operator's ``risk-limit`` action: the largest order quantity allowed for a symbol."""

    instance: str
    symbol: str
    max_order_qty: int = Field(ge=0)


class RestingOrder(_Recorded):
    order_id: str
    exchange_order_id: str | None = None
    symbol: str
    side: Side
    qty: int
    price: float


class RestingOrders(_Recorded):
    """An operator's ``resting-orders`` action: the orders it placed and left resting."""

    instance: str
    orders: list[RestingOrder]


_Model = TypeVar("_Model", bound=BaseModel)


def parse_value(model: type[_Model], value: Any, where: str) -> _Model:
    """``value`` as ``model``; a value that does not fit raises :class:`CheckerError` naming ``where``."""
    try:
        return model.model_validate(value)
    except ValidationError as error:
        raise CheckerError(f"{where} is not a valid {model.__name__}: {error}") from error


def parse(model: type[_Model], op: Op) -> _Model:
    """``op.value`` as ``model``; a value that does not fit raises :class:`CheckerError`."""
    return parse_value(model, op.value, f"history op #{op.index} ({op.kind} {op.f})")


_Event = TypeVar("_Event", bound=SutEvent)


def sut_events(ops: Iterable[Op], f: str, model: type[_Event]) -> list[_Event]:
    """The SUT events of one subject as ``model``, in the order they happened (ties: history order).

    The subject is matched on its last token (``f``), so any subject prefix works.
    """
    recorded = [op for op in ops if op.kind == OpKind.SUT and op.f == f and op.type == OpType.INFO]
    parsed = [(parse(model, op), op.index) for op in recorded]
    return [event for event, _ in sorted(parsed, key=lambda pair: (pair[0].t_ns, pair[1]))]


def actions(ops: Iterable[Op], f: str) -> list[Op]:
    """Operator actions ``f`` that succeeded, earliest first."""
    done = [op for op in ops
            if op.kind == OpKind.ACTION and op.process == _OPERATOR and op.f == f and op.type == OpType.OK]
    return sorted(done, key=lambda op: (op.t_ns, op.index))


def action_runs(ops: Sequence[Op], f: str) -> list[tuple[Op, Op | None]]:
    """Each operator action ``f`` as (its ``invoke``, the ``ok`` / ``fail`` that answered it or ``None``),
    earliest first (the operator carries actions out one at a time)."""
    mine = sorted((op for op in ops if op.kind == OpKind.ACTION and op.process == _OPERATOR and op.f == f),
                  key=lambda op: (op.t_ns, op.index))
    runs: list[tuple[Op, Op | None]] = []
    for op in mine:
        if op.type == OpType.INVOKE:
            runs.append((op, None))
        elif runs and runs[-1][1] is None:
            runs[-1] = (runs[-1][0], op)
    return runs


def applied_faults(ops: Iterable[Op]) -> list[Op]:
    """Every fault the harness applied (heals left out), earliest first."""
    faults = [op for op in ops if op.kind == OpKind.FAULT and op.type == OpType.OK and op.f != _HEAL]
    return sorted(faults, key=lambda op: (op.t_ns, op.index))


def first_outage(ops: Iterable[Op]) -> Op | None:
    """The earliest applied fault that takes a service out (kill, pause, partition)."""
    return next((op for op in applied_faults(ops) if op.f in OUTAGE_FAULTS), None)


@dataclass(frozen=True)
class Reference:
    """The instant a checker's other instants are told from (``after_s`` in its evidence)."""

    label: str
    t_ns: int

    def after_s(self, t_ns: int) -> float:
        return seconds(t_ns - self.t_ns)

    def instant(self, t_ns: int) -> dict[str, Any]:
        return {"t_ns": t_ns, "after_s": self.after_s(t_ns)}

    def describe(self) -> dict[str, Any]:
        return {"from": self.label, "t_ns": self.t_ns}


def reference(ops: Sequence[Op]) -> Reference:
    """The first applied fault, else the run's start, else the earliest op recorded."""
    faults = applied_faults(ops)
    if faults:
        fault = faults[0]
        return Reference(f"first fault ({fault.f} {fault.value.get('fault_id', '?')})", fault.t_ns)
    starts = [op.t_ns for op in ops if op.kind == OpKind.RUN and op.f == "start"]
    if starts:
        return Reference("run start", min(starts))
    return Reference("first recorded op", min((op.t_ns for op in ops), default=0))
