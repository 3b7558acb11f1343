"""Circuit breaker and kill switch: PnL limits trip a halt, cancel-all and flatten (pure).

A trip returns the ordered actions for the OMS to carry out — halt new entries first, then
cancel every open order, then flatten every position — stamped with the trip time. After a
trip only orders that reduce a position (without crossing zero) are admitted, until an
operator re-arms the breaker. A PnL that cannot be computed (NaN, infinite) trips it too: a
breaker that cannot see its input must fail safe. Defect ``breaker-disabled``: limits never
trip it (the manual kill switch still does).
"""

from __future__ import annotations

import math
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from trading_stack.defects import Defect

__all__ = [
    "BreakerAction",
    "BreakerActionKind",
    "BreakerConfig",
    "BreakerState",
    "CircuitBreaker",
    "Trip",
    "TripReason",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TripReason(StrEnum):
    LOSS_LIMIT = "loss-limit"
    DRAWDOWN_LIMIT = "drawdown-limit"
    PNL_UNAVAILABLE = "pnl-unavailable"
    KILL_SWITCH = "kill-switch"


class BreakerState(StrEnum):
    ARMED = "armed"
    TRIPPED = "tripped"


class BreakerActionKind(StrEnum):
    HALT_ENTRIES = "halt-entries"
    CANCEL_ALL_OPEN_ORDERS = "cancel-all-open-orders"
    FLATTEN_POSITIONS = "flatten-positions"


TRIP_SEQUENCE = (
    BreakerActionKind.HALT_ENTRIES,
    BreakerActionKind.CANCEL_ALL_OPEN_ORDERS,
    BreakerActionKind.FLATTEN_POSITIONS,
)


class BreakerAction(_Frozen):
    kind: BreakerActionKind
    t_ns: int
    step: int = Field(ge=0, description="order in which the OMS must carry the actions out")


class Trip(_Frozen):
    t_ns: int
    reason: TripReason
    pnl: float | None
    peak_pnl: float
    operator: str | None = None
    actions: tuple[BreakerAction, ...]


class BreakerConfig(_Frozen):
    """Limits in account currency: a loss below ``-max_loss`` or a drop of ``max_drawdown`` from the peak."""

    max_loss: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    max_drawdown: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    defects: tuple[Defect, ...] = ()

    @model_validator(mode="after")
    def _some_limit(self) -> BreakerConfig:
        if self.max_loss is None and self.max_drawdown is None:
            raise ValueError("expected a limit: max_loss and/or max_drawdown")
        return self


class CircuitBreaker:
    """PnL samples in, at most one :class:`Trip` out until re-armed (no config: a kill switch only)."""

    def __init__(self, config: BreakerConfig | None) -> None:
        self.config = config
        self.peak_pnl = 0.0
        self.trip: Trip | None = None

    @property
    def state(self) -> BreakerState:
        return BreakerState.ARMED if self.trip is None else BreakerState.TRIPPED

    @property
    def limits_enabled(self) -> bool:
        return self.config is not None and Defect.BREAKER_DISABLED not in self.config.defects

    def _breach(self, pnl: float) -> TripReason | None:
        assert self.config is not None
        if not math.isfinite(pnl):
            return TripReason.PNL_UNAVAILABLE
        self.peak_pnl = max(self.peak_pnl, pnl)
        if self.config.max_loss is not None and pnl <= -self.config.max_loss:
            return TripReason.LOSS_LIMIT
        if self.config.max_drawdown is not None and self.peak_pnl - pnl >= self.config.max_drawdown:
            return TripReason.DRAWDOWN_LIMIT
        return None

    def _trip(self, t_ns: int, reason: TripReason, pnl: float | None, operator: str | None = None) -> Trip:
        actions = tuple(BreakerAction(kind=kind, t_ns=t_ns, step=i) for i, kind in enumerate(TRIP_SEQUENCE))
        self.trip = Trip(
            t_ns=t_ns, reason=reason, pnl=pnl if pnl is None or math.isfinite(pnl) else None,
            peak_pnl=self.peak_pnl, operator=operator, actions=actions,
        )
        return self.trip

    def observe(self, t_ns: int, pnl: float) -> Trip | None:
        """A total PnL sample (realised + marked); the trip it causes, if any."""
        if self.trip is not None or not self.limits_enabled:
            return None
        reason = self._breach(pnl)
        return None if reason is None else self._trip(t_ns, reason, pnl)

    def kill(self, t_ns: int, operator: str) -> Trip | None:
        """The manual kill switch; ``None`` when already tripped (the first trip stands)."""
        if self.trip is not None:
            return None
        return self._trip(t_ns, TripReason.KILL_SWITCH, None, operator)

    def adopt(self, trip: Trip) -> bool:
        """A trip made elsewhere (another instance, an earlier boot) is in force here too; False when
        this breaker is tripped already (its own trip stands)."""
        if self.trip is not None:
            return False
        self.trip = trip
        return True

    def admits(self, position: int, signed_qty: int) -> bool:
        """Whether an order of ``signed_qty`` lots on a symbol holding ``position`` may go out."""
        if self.trip is None:
            return True
        reduces = position * signed_qty < 0 and abs(signed_qty) <= abs(position)
        return reduces

    def rearm(self, pnl: float) -> None:
        """Operator re-arms after the trip was handled; the drawdown peak restarts at ``pnl``."""
        if not math.isfinite(pnl):
            raise ValueError(f"expected a finite PnL to re-arm at, got {pnl}")
        self.trip = None
        self.peak_pnl = pnl
