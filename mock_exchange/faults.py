"""Exchange faults the admin API switches at run time: their kinds and parameters.

Each fault is a frozen model; ``session`` (a SenderCompID) scopes it to one session, absent
means every session (a price path takes none: it moves the price every session trades at).
:func:`parse_fault` turns an admin request body into one, or raises :class:`FaultParamsError`
naming the field. The live state is in :mod:`mock_exchange.fault_board`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

RATE_LIMIT_TEXT = "Rate limit exceeded"
HALT_TEXT = "Trading halted"


class FaultKind(StrEnum):
    CANCEL_FAILURE = "cancel_failure"
    REJECT_NEW_ORDERS = "reject_new_orders"
    RATE_LIMIT = "rate_limit"
    RECONNECT_COOLDOWN = "reconnect_cooldown"
    EXECUTION_REPORTS = "execution_reports"
    HALT = "halt"
    PRICE_PATH = "price_path"


class CancelFailureMode(StrEnum):
    REJECT = "reject"
    HANG = "hang"
    DROP = "drop"


class HeldCancelFate(StrEnum):
    """What becomes of the cancels a hanging cancel failure holds when it is healed (or replaced)."""

    RELEASE = "release"
    """processed then, as if they had just arrived"""
    DROP = "drop"
    """discarded: only a cancel sent again cancels the order"""


class CountedRequest(StrEnum):
    """The order-entry requests a rate limit counts."""

    NEW = "new"
    CANCEL = "cancel"
    REPLACE = "replace"


class ReportSelection(StrEnum):
    """Which execution reports an execution-report fault applies to."""

    ALL = "all"
    FILLS = "fills"


class ReportFaultMode(StrEnum):
    DELAY = "delay"
    DROP = "drop"
    DUPLICATE = "duplicate"


class CooldownScope(StrEnum):
    FIRM = "firm"
    SESSION = "session"


class _Fault(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    session: str | None = Field(default=None, min_length=1, description="SenderCompID; absent = all")

    def applies_to(self, session: str) -> bool:
        return self.session is None or self.session == session


class CancelFailure(_Fault):
    kind: Literal[FaultKind.CANCEL_FAILURE] = FaultKind.CANCEL_FAILURE
    mode: CancelFailureMode
    reason: str = Field(default="Cancel rejected by venue", min_length=1)
    symbol: str | None = None
    on_heal: HeldCancelFate | None = None
    """mode hang only (default release): the fate of the held cancels when the fault ends."""

    @model_validator(mode="before")
    @classmethod
    def _a_hang_releases_by_default(cls, data: Any) -> Any:
        hang = isinstance(data, dict) and data.get("mode") == CancelFailureMode.HANG
        if hang and data.get("on_heal") is None:
            return {**data, "on_heal": HeldCancelFate.RELEASE}
        return data

    @field_validator("on_heal")
    @classmethod
    def _only_a_hang_holds_cancels(cls, fate: HeldCancelFate | None, info: ValidationInfo,
                                   ) -> HeldCancelFate | None:
        mode = info.data.get("mode")
        if fate is not None and mode is not None and mode is not CancelFailureMode.HANG:
            raise ValueError(f"applies to mode hang only; mode {mode} holds no cancel")
        return fate

    @property
    def drops_held_cancels(self) -> bool:
        return self.on_heal is HeldCancelFate.DROP


class RejectNewOrders(_Fault):
    kind: Literal[FaultKind.REJECT_NEW_ORDERS] = FaultKind.REJECT_NEW_ORDERS
    reason: str = Field(default="New orders are not accepted", min_length=1)


class RateLimit(_Fault):
    kind: Literal[FaultKind.RATE_LIMIT] = FaultKind.RATE_LIMIT
    max_orders: int = Field(gt=0)
    window_s: float = Field(gt=0)
    ban_s: float = Field(default=0.0, ge=0)
    counts: tuple[CountedRequest, ...] = (CountedRequest.NEW,)
    """the requests that count against (and are refused beyond) the limit, in one window"""

    @field_validator("counts")
    @classmethod
    def _some_each_once(cls, counts: tuple[CountedRequest, ...]) -> tuple[CountedRequest, ...]:
        if not counts or len(set(counts)) != len(counts):
            kinds = ", ".join(kind.value for kind in CountedRequest)
            raise ValueError(f"expected a list of request kinds, each at most once, of: {kinds}")
        return counts


class ReconnectCooldown(_Fault):
    kind: Literal[FaultKind.RECONNECT_COOLDOWN] = FaultKind.RECONNECT_COOLDOWN
    clean_s: float = Field(default=0.0, ge=0)
    unclean_s: float = Field(default=0.0, ge=0)
    scope: CooldownScope = CooldownScope.FIRM


class ExecutionReports(_Fault):
    kind: Literal[FaultKind.EXECUTION_REPORTS] = FaultKind.EXECUTION_REPORTS
    mode: ReportFaultMode
    delay_s: float = Field(default=0.0, ge=0)
    probability: float = Field(default=1.0, ge=0, le=1)
    only: ReportSelection = ReportSelection.ALL
    """``fills``: only trade reports are delayed, dropped or duplicated (acks, cancels pass)"""

    def selects(self, *, fill: bool) -> bool:
        return fill or self.only is ReportSelection.ALL

    @model_validator(mode="after")
    def _delay_needs_a_duration(self) -> ExecutionReports:
        if self.mode is ReportFaultMode.DELAY and self.delay_s <= 0:
            raise ValueError("delay_s must be > 0 when mode is delay")
        return self


class Halt(_Fault):
    kind: Literal[FaultKind.HALT] = FaultKind.HALT
    symbols: tuple[str, ...] = Field(min_length=1)


class PricePath(_Fault):
    """The symbol's price moves ``move_pct`` percent, linearly over ``over_s`` (0: at once), then
    holds; healing lets the seeded walk resume from where the price is."""

    kind: Literal[FaultKind.PRICE_PATH] = FaultKind.PRICE_PATH
    symbol: str = Field(min_length=1)
    move_pct: float = Field(gt=-100, allow_inf_nan=False)
    over_s: float = Field(ge=0, allow_inf_nan=False)

    @field_validator("session")
    @classmethod
    def _moves_every_session(cls, session: str | None) -> None:
        if session is not None:
            raise ValueError("a price path moves the price for every session; leave session out")


Fault = CancelFailure | RejectNewOrders | RateLimit | ReconnectCooldown | ExecutionReports | Halt | PricePath

FAULT_MODELS: dict[FaultKind, type[Fault]] = {
    FaultKind.CANCEL_FAILURE: CancelFailure,
    FaultKind.REJECT_NEW_ORDERS: RejectNewOrders,
    FaultKind.RATE_LIMIT: RateLimit,
    FaultKind.RECONNECT_COOLDOWN: ReconnectCooldown,
    FaultKind.EXECUTION_REPORTS: ExecutionReports,
    FaultKind.HALT: Halt,
    FaultKind.PRICE_PATH: PricePath,
}


class FaultParamsError(ValueError):
    """The parameters of a fault are invalid; the message names the field."""


def parse_fault(kind: FaultKind, params: Any) -> Fault:
    """The fault of ``kind`` with ``params`` (a JSON object; ``kind`` in it must match)."""
    if not isinstance(params, dict):
        raise FaultParamsError("the body must be a JSON object of fault parameters")
    if params.get("kind", kind.value) != kind.value:
        raise FaultParamsError(f"kind: {params['kind']!r} does not match the route's {kind.value!r}")
    try:
        return FAULT_MODELS[kind].model_validate({**params, "kind": kind})
    except ValidationError as error:
        raise FaultParamsError(_describe(error)) from None


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or "body"
        problems.append(f"{location}: {item['msg']}")
    return "; ".join(problems)
