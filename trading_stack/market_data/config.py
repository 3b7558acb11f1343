"""``OmsConfig.market_data``: which feeds the OMS consumes and the limits it judges them by (issue 16).

Every default below is a number a careful desk would write down, with its reason. The reasons
refer to the venue's feeds as the reference stack runs them (docs: /tmp/md16 protocol; the mock
venue's ``SymbolConfig``): each feed publishes every symbol about 20 times a second, sends a
heartbeat after 1 s without any other message, and the price process moves the mid every 20 ms
with a standard deviation of 2 bp (about 14 bp a second) around a spread of 2 ticks.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

__all__ = ["FeedName", "MarketDataConfig", "MarketDataPolicy"]

FeedName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,8}$")]
FeedUrl = Annotated[str, StringConstraints(pattern=r"^wss?://\S+$", max_length=2048)]


class MarketDataPolicy(BaseModel):
    """How the OMS trades on its feeds: which one it prefers and the limits it judges them by."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    primary: FeedName = Field(default="A", description="the feed the OMS trades on while it is healthy")
    symbols: tuple[str, ...] = Field(
        default=(), description="symbols every usable feed must keep current; () = every symbol it sends "
        "(the OMS subscribes to every symbol either way: the feed's one seq runs over all of them)")
    max_feed_age_ms: int = Field(
        default=1500, gt=0, le=60_000,
        description="a feed (or one of its symbols' quotes) older than this is stale and never priced off. "
        "1.5 heartbeat intervals: a live feed's age is ~50 ms (20 updates/s per symbol) and never "
        "above the 1 s heartbeat even on a quiet connection, so 1.5 s means a missed heartbeat, not "
        "a slow second; it is also the 'no price change while updates arrive' limit of a frozen feed")
    divergence_bp: float = Field(
        default=25.0, gt=0, le=10_000, allow_inf_nan=False,
        description="two healthy feeds whose mids differ by more than this (bp of the mid) diverge. "
        "The spread is 2 ticks (< 1 bp), so what separates two honest feeds is timing: each samples "
        "the price at its own moment, up to ~3 steps apart (sigma ~3.5 bp at 2 bp a step); 25 bp is "
        "~7 sigma of that, and far below the 100+ bp a wrong feed must be caught at")
    frozen_move_bp: float = Field(
        default=5.0, gt=0, le=10_000, allow_inf_nan=False,
        description="a feed whose updates of a symbol keep coming for max_feed_age_ms without a price "
        "change is frozen once another healthy feed's price of it has moved this much (and at least 2 "
        "ticks) since. Not 'any change': a price hovering on a tick boundary shows one feed a tick the "
        "other does not, and a tick can be 10 bp (ETH at 10); 5 bp is a few steps of a real move, well "
        "before a frozen quote is wrong by the divergence threshold, and while the market stands still "
        "a frozen quote is still right")
    reference_window_ms: int = Field(
        default=2000, gt=0, le=60_000,
        description="an execution (a fill the venue reported) older than this no longer says which "
        "of two diverging feeds is right: in 2 s the price moves ~20 bp (1 sigma), under the threshold")
    switch_back_after_ms: int = Field(
        default=5000, ge=0, le=600_000,
        description="the primary must be healthy this long before the OMS goes back to it: a feed that "
        "flaps (a stall every few seconds) must not drag every order between two feeds")
    gap_recovery_ms: int = Field(
        default=500, gt=0, le=60_000,
        description="a sequence gap not recovered by a snapshot within this makes the feed unusable; a "
        "snapshot is one round trip (ms on loopback, ~100 ms across regions)")
    snapshot_retry_ms: int = Field(
        default=250, gt=0, le=60_000, description="a snapshot request not answered within this is sent again")
    total_loss_trip_ms: int = Field(
        default=1000, ge=0, le=600_000,
        description="no usable feed for this long (after a feed is already stale) trips the feed breaker: "
        "a blip (a reconnect, a snapshot round trip) must not cancel the book, but resting orders must "
        "not sit in a market the OMS cannot see for long. Entries are refused from the first instant")
    flatten_on_total_loss: bool = Field(
        default=False,
        description="the feed breaker also flattens every position (with venue market orders, the only "
        "ones that need no price). Off by default: flattening blind trades at whatever price the venue "
        "has, which is a desk's decision, not a default")
    market_collar_bp: float = Field(
        default=50.0, gt=0, le=10_000, allow_inf_nan=False,
        description="a client market order goes to the venue as a limit order at the selected feed's "
        "ask (buy) or bid (sell) moved this far through the market: it covers the move between the "
        "decision and the match (~5 bp over 100 ms here, far more in a fast market) while bounding the "
        "slippage a wrong or late price can cost")
    limit_band_bp: float = Field(
        default=500.0, gt=0, le=100_000, allow_inf_nan=False,
        description="a client limit price further than this through the selected feed's market (a buy "
        "above the ask, a sell below the bid) is a fat finger (422); one resting away from the market is "
        "never refused. 5 %: venues' own limit-price collars on crypto are 5-10 %, and a band tighter than "
        "a day's move would refuse honest orders chasing a fast market")
    tick: float = Field(default=0.01, gt=0, allow_inf_nan=False, description="protection prices are rounded "
                        "to it, away from the market")
    reconnect_initial_s: float = Field(default=0.1, gt=0, le=60, allow_inf_nan=False)
    reconnect_max_s: float = Field(default=2.0, gt=0, le=600, allow_inf_nan=False)
    silence_reconnect_ms: int = Field(
        default=3000, gt=0, le=600_000,
        description="a connection silent this long (three heartbeats) is dropped and made again: a "
        "half-open TCP connection never tells its reader")
    evaluate_interval_ms: int = Field(default=25, gt=0, le=10_000,
                                      description="how often the selector looks at the feeds' clocks")
    publish_interval_ms: int = Field(default=1000, gt=0, le=60_000,
                                     description="the feed state is published at least this often")

    @model_validator(mode="after")
    def _backoff_grows(self) -> MarketDataPolicy:
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError("reconnect_max_s must be at least reconnect_initial_s")
        return self


class MarketDataConfig(MarketDataPolicy):
    """The feeds (name -> WebSocket URL of the feed's ``/md`` endpoint) and how the OMS trades on them.

    Absent from :class:`~trading_stack.config.OmsConfig` (the default), the OMS consumes no market
    data and prices nothing: today's behaviour exactly.
    """

    feeds: dict[FeedName, FeedUrl] = Field(min_length=1, max_length=8)

    @model_validator(mode="after")
    def _primary_is_a_feed(self) -> MarketDataConfig:
        if self.primary not in self.feeds:
            raise ValueError(f"primary {self.primary!r} is not one of the feeds ({', '.join(self.feeds)})")
        return self

    @property
    def feed_order(self) -> tuple[str, ...]:
        """The primary first, then the others in the order the config names them (failover preference)."""
        return (self.primary, *(name for name in self.feeds if name != self.primary))
