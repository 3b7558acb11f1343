"""Typed views of the history ops checkers read (docs/contracts.md §3 and §6).

These models describe data another process wrote, so they ignore fields they do not need
(a tolerant reader: a venue that adds a field must not break grading); a field they need
that is missing or malformed raises :class:`CheckerError`, which grades ``unknown``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from gameday.checkers.base import Observation, Unit
from gameday.checkers.trade_probes import attempts, counted
from gameday.errors import CheckerError
from gameday.history import Op, OpKind, OpType

__all__ = [
    "TRADING_STOPPED",
    "ActiveAtEnd",
    "FinalState",
    "InstanceState",
    "LedgerFill",
    "LedgerOrder",
    "LedgerSnapshot",
    "Missing",
    "OmsOrder",
    "OrderStatus",
    "Side",
    "active_at_end",
    "final_state",
    "last_op",
    "ledger_snapshot",
    "trading_stopped",
]


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderStatus(StrEnum):
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class _Recorded(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class LedgerOrder(_Recorded):
    order_id: str
    cl_ord_id: str
    instance: str | None = None
    symbol: str
    side: Side
    qty: int
    cum_qty: int = 0
    leaves_qty: int = 0
    status: OrderStatus
    received_ns: int


class LedgerFill(_Recorded):
    exec_id: str
    cl_ord_id: str | None = None
    instance: str | None = None
    symbol: str
    side: Side
    qty: int
    t_ns: int | None = None

    @property
    def signed_qty(self) -> int:
        return self.qty if self.side is Side.BUY else -self.qty


class LedgerSnapshot(_Recorded):
    orders: list[LedgerOrder] = []
    fills: list[LedgerFill] = []
    now_ns: int | None = None


class OmsOrder(_Recorded):
    order_id: str
    symbol: str | None = None
    instance: str | None = None


class InstanceState(_Recorded):
    """What one instance answered at the end; ``None`` where it did not answer (a dead instance)."""

    role: str | None = None
    positions: dict[str, int] | None = None
    open_orders: list[OmsOrder] | None = None

    @field_validator("positions", mode="before")
    @classmethod
    def _unwrap_positions_body(cls, value: Any) -> Any:
        """Accept the whole ``GET /positions`` body as well as its ``positions`` map."""
        if isinstance(value, dict) and isinstance(value.get("positions"), dict):
            return value["positions"]
        return value


class FinalState(_Recorded):
    active: str | None = None
    instances: dict[str, InstanceState] = {}
    stable: bool = True


def last_op(ops: Iterable[Op], kind: OpKind, f: str, *, type_: OpType = OpType.OK,
            process: str | None = None) -> Op | None:
    found: Op | None = None
    for op in ops:
        if op.kind == kind and op.f == f and op.type == type_ and (process is None or op.process == process):
            found = op
    return found


_Model = TypeVar("_Model", bound=BaseModel)


def _parse(model: type[_Model], op: Op) -> _Model:
    try:
        return model.model_validate(op.value)
    except ValidationError as error:
        raise CheckerError(
            f"history op #{op.index} ({op.kind} {op.f}) is not a valid {model.__name__}: {error}"
        ) from error


def final_state(ops: Sequence[Op]) -> FinalState | None:
    """The last ``probe-final`` ``final-state`` sample, or ``None`` when there is none."""
    op = last_op(ops, OpKind.PROBE, "final-state")
    return None if op is None else _parse(FinalState, op)


def ledger_snapshot(ops: Sequence[Op]) -> LedgerSnapshot | None:
    """The last venue ledger snapshot, or ``None`` when there is none."""
    op = last_op(ops, OpKind.LEDGER, "snapshot")
    return None if op is None else _parse(LedgerSnapshot, op)


@dataclass(frozen=True)
class ActiveAtEnd:
    """The active instance's answers at the end of the run, beside the venue's ledger."""

    name: str
    positions: dict[str, int]
    open_orders: list[OmsOrder]
    ledger: LedgerSnapshot
    stable: bool


TRADING_STOPPED = "no instance was active at the end: trading had stopped"


def trading_stopped(ops: Sequence[Op]) -> str | None:
    """Why the history shows trading had stopped at the end, or ``None`` when it does not.

    Stopped = the final state names no active instance *and* the last trade probe failed: one
    observation alone (a role read that timed out, a probe that got lucky) is not enough.
    """
    state = final_state(ops)
    if state is None or state.active is not None:
        return None
    found = counted(attempts(ops))
    if not found or found[-1].ok:
        return None
    return TRADING_STOPPED


@dataclass(frozen=True)
class Missing:
    """Why there is no active instance to grade; ``violated`` when that absence is itself the finding."""

    reason: str
    violated: bool = False

    def observation(self, unit: Unit) -> Observation:
        if self.violated:
            return Observation.violation(unit, self.reason)
        return Observation.absent(unit, self.reason)


def active_at_end(ops: Sequence[Op]) -> ActiveAtEnd | Missing:
    """The final evidence about the active instance, or why it is missing.

    A run that ended with no active instance while trade probes failed *fails* what needs one
    (positions, ghost orders): that trading had stopped is the observation, not a lack of one.
    """
    state = final_state(ops)
    if state is None:
        return Missing("no final-state probe in the history")
    if state.active is None:
        stopped = trading_stopped(ops)
        if stopped is not None:
            return Missing(stopped, violated=True)
        return Missing("no instance reported active at the end of the run, yet the last trade probe did not "
                       "fail (or there was none): the two do not agree that trading had stopped")
    ledger = ledger_snapshot(ops)
    if ledger is None:
        return Missing("no ledger snapshot in the history")
    active = state.instances.get(state.active)
    if active is None:
        return Missing(f"the active instance {state.active} was not sampled")
    if active.positions is None or active.open_orders is None:
        return Missing(f"the active instance {state.active} did not report its positions and open orders")
    return ActiveAtEnd(state.active, active.positions, active.open_orders, ledger, state.stable)
