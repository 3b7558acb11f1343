"""Exchange faults the admin API switches at run time: their kinds and parameters.

Each fault is a frozen model; ``session`` (a SenderCompID) scopes it to one session, absent
means every session (a price path takes none: it moves the price every session trades at).
:func:`parse_fault` turns an admin request body into one, or raises :class:`FaultParamsError`
naming the field. The live state is in :mod:`mock_exchange.fault_board`. The kinds and the base
model are :mod:`mock_exchange.fault_base`; the market-wide kinds (price bands, a replayed day)
:mod:`mock_exchange.market_faults`.

Every parameter is bounded: numbers are finite and within the limits below, texts and lists
are short. A request can arm a fault the venue cannot act on sanely (a price moved beyond
floats, a delay of a thousand years) no more than it can arm one with a missing field.

Feed faults (``feed_*``) act on the venue's market-data feeds (:mod:`mock_exchange.md`): each names
one feed (or ``"*"``, every feed) and optionally the symbols it applies to, and takes no ``session``.
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

from mock_exchange.fault_base import (
    MAX_DURATION_S,
    MAX_SYMBOLS,
    Duration,
    FaultKind,
    Name,
    Text,
)
from mock_exchange.fault_base import FaultModel as _Fault
from mock_exchange.market_faults import PriceBands, Replay

RATE_LIMIT_TEXT = "Rate limit exceeded"
HALT_TEXT = "Trading halted"

MAX_MOVE_PCT = 10_000.0
"""a price path moves the price to at most 101 times where it is (the venue's ``max_price`` too)"""
MAX_ORDERS_PER_WINDOW = 1_000_000_000
MAX_DRIFT_BP = 5_000.0
"""a drifting feed's prices are off by at most half (either way)"""
MAX_BURST_MULTIPLIER = 100.0
MAX_SLIPPAGE_BPS = 5_000.0
"""a slipping session's fills are at most half the price away from the touch"""
MAX_GAP_EVERY_N = 1_000_000
EVERY_FEED = "*"
FEED_SELECTOR_PATTERN = r"^([A-Za-z0-9]{1,8}|\*)$"

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
    MIXED = "mixed"  # each report rolls once for one of the others, by ``mix``


class ReportMix(BaseModel):
    """Mode ``mixed``: the chance of each fate per report (the rest are delivered as they are)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    drop: float = Field(default=0.0, ge=0, le=1, allow_inf_nan=False)
    duplicate: float = Field(default=0.0, ge=0, le=1, allow_inf_nan=False)
    delay: float = Field(default=0.0, ge=0, le=1, allow_inf_nan=False)

    @model_validator(mode="after")
    def _some_and_at_most_one(self) -> ReportMix:
        total = self.drop + self.duplicate + self.delay
        if not 0 < total <= 1:
            raise ValueError(f"expected drop + duplicate + delay in (0, 1], got {total:g}")
        return self

    def pick(self, roll: float) -> ReportFaultMode | None:
        """The fate of a report whose roll in [0, 1) is ``roll``; ``None``: delivered."""
        bound = 0.0
        for mode, chance in ((ReportFaultMode.DROP, self.drop), (ReportFaultMode.DUPLICATE, self.duplicate),
                             (ReportFaultMode.DELAY, self.delay)):
            bound += chance
            if roll < bound:
                return mode
        return None


class CooldownScope(StrEnum):
    FIRM = "firm"
    SESSION = "session"


class CancelFailure(_Fault):
    kind: Literal[FaultKind.CANCEL_FAILURE] = FaultKind.CANCEL_FAILURE
    mode: CancelFailureMode
    reason: Text = "Cancel rejected by venue"
    symbol: Name | None = None
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
    reason: Text = "New orders are not accepted"


class Slippage(_Fault):
    """The session's market orders fill ``bps`` worse than the touch: a buy above the ask, a sell below
    the bid (a limit order fills at its limit, as always)."""

    kind: Literal[FaultKind.SLIPPAGE] = FaultKind.SLIPPAGE
    bps: float = Field(gt=0, le=MAX_SLIPPAGE_BPS, allow_inf_nan=False)


class OrderRateLimit(BaseModel):
    """At most ``max_orders`` requests per session in any ``window_s``; the one beyond is refused
    and, with ``ban_s``, the session is banned (every request it counts refused) for that long.
    A venue's published limit (``VenueConfig.order_rate_limit``) is one, on new orders."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_orders: int = Field(gt=0, le=MAX_ORDERS_PER_WINDOW)
    window_s: float = Field(gt=0, le=MAX_DURATION_S, allow_inf_nan=False)
    ban_s: Duration = 0.0


class RateLimit(_Fault, OrderRateLimit):
    kind: Literal[FaultKind.RATE_LIMIT] = FaultKind.RATE_LIMIT
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
    clean_s: Duration = 0.0
    unclean_s: Duration = 0.0
    scope: CooldownScope = CooldownScope.FIRM


class ExecutionReports(_Fault):
    kind: Literal[FaultKind.EXECUTION_REPORTS] = FaultKind.EXECUTION_REPORTS
    mode: ReportFaultMode
    delay_s: Duration = 0.0
    probability: float = Field(default=1.0, ge=0, le=1, allow_inf_nan=False)
    only: ReportSelection = ReportSelection.ALL
    """``fills``: only trade reports are delayed, dropped or duplicated (acks, cancels pass)"""
    mix: ReportMix | None = None
    """mode ``mixed`` only (and required): each report's chance of each fate"""

    def selects(self, *, fill: bool) -> bool:
        return fill or self.only is ReportSelection.ALL

    @model_validator(mode="after")
    def _delay_needs_a_duration(self) -> ExecutionReports:
        mixed = self.mode is ReportFaultMode.MIXED
        if mixed != (self.mix is not None):
            raise ValueError("mix is required with mode mixed, and only with it")
        if mixed and self.probability != 1.0:
            raise ValueError("mode mixed takes each fate's chance from mix, not probability")
        delays = self.mode is ReportFaultMode.DELAY or (self.mix is not None and self.mix.delay > 0)
        if delays and self.delay_s <= 0:
            raise ValueError("delay_s must be > 0 when reports are delayed (mode delay, or mix.delay)")
        return self


class Halt(_Fault):
    kind: Literal[FaultKind.HALT] = FaultKind.HALT
    symbols: tuple[Name, ...] = Field(min_length=1, max_length=MAX_SYMBOLS)


class PricePath(_Fault):
    """The symbol's price moves ``move_pct`` percent, linearly over ``over_s`` (0: at once), then
    holds; healing lets the seeded walk resume from where the price is."""

    kind: Literal[FaultKind.PRICE_PATH] = FaultKind.PRICE_PATH
    symbol: Name
    move_pct: float = Field(gt=-100, le=MAX_MOVE_PCT, allow_inf_nan=False)
    over_s: Duration

    @field_validator("session")
    @classmethod
    def _moves_every_session(cls, session: str | None) -> None:
        if session is not None:
            raise ValueError("a price path moves the price for every session; leave session out")


class _FeedFault(_Fault):
    """A fault of one market-data feed (``"*"``: every feed), of ``symbols`` only when given."""

    feed: str = Field(pattern=FEED_SELECTOR_PATTERN, description='a feed name, or "*" for every feed')
    symbols: tuple[Name, ...] | None = Field(default=None, min_length=1, max_length=MAX_SYMBOLS)

    @field_validator("session")
    @classmethod
    def _acts_on_a_feed(cls, session: str | None) -> None:
        if session is not None:
            raise ValueError("a feed fault acts on a feed, not a session; leave session out")

    def applies_to_feed(self, feed: str) -> bool:
        return self.feed in (EVERY_FEED, feed)

    def covers(self, symbol: str) -> bool:
        return self.symbols is None or symbol in self.symbols


class FeedStall(_FeedFault):
    """The feed sends nothing: no updates and (unless scoped to symbols) no heartbeats."""

    kind: Literal[FaultKind.FEED_STALL] = FaultKind.FEED_STALL


class FeedGap(_FeedFault):
    """Every ``every_n``-th update is not sent; its sequence number is spent."""

    kind: Literal[FaultKind.FEED_GAP] = FaultKind.FEED_GAP
    every_n: int = Field(default=10, ge=1, le=MAX_GAP_EVERY_N)


class FeedStale(_FeedFault):
    """Prices frozen where they are at the PUT; sequence numbers and heartbeats go on."""

    kind: Literal[FaultKind.FEED_STALE] = FaultKind.FEED_STALE


class FeedDrift(_FeedFault):
    """Prices off by ``bp`` basis points (signed), on the symbol's tick."""

    kind: Literal[FaultKind.FEED_DRIFT] = FaultKind.FEED_DRIFT
    bp: float = Field(ge=-MAX_DRIFT_BP, le=MAX_DRIFT_BP, allow_inf_nan=False)


class FeedCrossed(_FeedFault):
    """Bid and ask swapped: the bid above the ask."""

    kind: Literal[FaultKind.FEED_CROSSED] = FaultKind.FEED_CROSSED


class FeedDuplicate(_FeedFault):
    """Every update sent twice (the same bytes, the same seq)."""

    kind: Literal[FaultKind.FEED_DUPLICATE] = FaultKind.FEED_DUPLICATE


class FeedReorder(_FeedFault):
    """Adjacent updates swapped: each odd one is held and sent after the next."""

    kind: Literal[FaultKind.FEED_REORDER] = FaultKind.FEED_REORDER


class FeedBurst(_FeedFault):
    """The update rate multiplied by ``multiplier``."""

    kind: Literal[FaultKind.FEED_BURST] = FaultKind.FEED_BURST
    multiplier: float = Field(gt=1, le=MAX_BURST_MULTIPLIER, allow_inf_nan=False)


FeedFault = (
    FeedStall | FeedGap | FeedStale | FeedDrift | FeedCrossed | FeedDuplicate | FeedReorder | FeedBurst
)
FEED_FAULT_TYPES = (
    FeedStall, FeedGap, FeedStale, FeedDrift, FeedCrossed, FeedDuplicate, FeedReorder, FeedBurst
)

Fault = (
    CancelFailure | RejectNewOrders | RateLimit | ReconnectCooldown | ExecutionReports | Halt | PricePath
    | Slippage | PriceBands | Replay | FeedFault
)

FAULT_MODELS: dict[FaultKind, type[Fault]] = {
    FaultKind.CANCEL_FAILURE: CancelFailure,
    FaultKind.REJECT_NEW_ORDERS: RejectNewOrders,
    FaultKind.RATE_LIMIT: RateLimit,
    FaultKind.RECONNECT_COOLDOWN: ReconnectCooldown,
    FaultKind.EXECUTION_REPORTS: ExecutionReports,
    FaultKind.HALT: Halt,
    FaultKind.PRICE_PATH: PricePath,
    FaultKind.SLIPPAGE: Slippage,
    FaultKind.PRICE_BANDS: PriceBands,
    FaultKind.REPLAY: Replay,
    FaultKind.FEED_STALL: FeedStall,
    FaultKind.FEED_GAP: FeedGap,
    FaultKind.FEED_STALE: FeedStale,
    FaultKind.FEED_DRIFT: FeedDrift,
    FaultKind.FEED_CROSSED: FeedCrossed,
    FaultKind.FEED_DUPLICATE: FeedDuplicate,
    FaultKind.FEED_REORDER: FeedReorder,
    FaultKind.FEED_BURST: FeedBurst,
}


class FaultParamsError(ValueError):
    """The parameters of a fault are invalid; the message names the field."""


def parse_fault(kind: FaultKind, params: Any) -> Fault:
    """The fault of ``kind`` with ``params`` (a JSON object; ``kind`` in it must match)."""
    if not isinstance(params, dict):
        raise FaultParamsError("the body must be a JSON object of fault parameters")
    if params.get("kind", kind.value) != kind.value:
        given = _shortened(repr(params["kind"]))
        raise FaultParamsError(f"kind: {given} does not match the route's {kind.value!r}")
    try:
        return FAULT_MODELS[kind].model_validate({**params, "kind": kind})
    except ValidationError as error:
        raise FaultParamsError(_describe(error)) from None


MAX_PROBLEMS_NAMED = 5
_MAX_QUOTED = 80


def _describe(error: ValidationError) -> str:
    """The first few problems, each naming its field (a name the request made up is shortened)."""
    items = error.errors()
    problems = []
    for item in items[:MAX_PROBLEMS_NAMED]:
        location = ".".join(_shortened(str(part)) for part in item["loc"]) or "body"
        problems.append(f"{location}: {item['msg']}")
    if len(items) > MAX_PROBLEMS_NAMED:
        problems.append(f"and {len(items) - MAX_PROBLEMS_NAMED} more")
    return "; ".join(problems)


def _shortened(text: str) -> str:
    return text if len(text) <= _MAX_QUOTED else f"{text[:_MAX_QUOTED]}... ({len(text)} chars)"
