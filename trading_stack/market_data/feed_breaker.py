"""The feed breaker: a total feed disruption halts trading until a feed is back AND an operator says so.

Total disruption = no usable feed (each stale, stalled, frozen, gapped, crossed, disconnected or
proved wrong by an execution) for ``total_loss_trip_ms`` without a break. A divergence no
execution decided is not a disruption (there is data; the symbol is only not priced). The trip
(carried out by the OMS): entries halt, every open order is cancelled, and positions are
flattened if configured. Re-arming needs both a usable feed at that moment and an operator's
request (``POST /admin/rearm``); the breaker never re-arms by itself, because a feed that just
came back has not yet shown it is trustworthy and resting orders were cancelled for a reason.
Defect ``no-feed-breaker``: it never trips.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["FeedBreaker", "FeedBreakerState", "FeedTrip"]


class FeedBreakerState(StrEnum):
    ARMED = "armed"
    TRIPPED = "tripped"


@dataclass(frozen=True)
class FeedTrip:
    t_ns: int
    no_feed_since_ns: int
    reason: str


class FeedBreaker:
    def __init__(self, trip_after_ns: int, enabled: bool = True) -> None:
        self._trip_after_ns = trip_after_ns
        self._enabled = enabled
        self.trip: FeedTrip | None = None
        self.no_feed_since_ns: int | None = None

    @property
    def state(self) -> FeedBreakerState:
        return FeedBreakerState.ARMED if self.trip is None else FeedBreakerState.TRIPPED

    def observe(self, now: int, any_usable: bool, why: str) -> FeedTrip | None:
        """One look at the feeds; the trip it causes, if any (only one until re-armed)."""
        if any_usable:
            self.no_feed_since_ns = None
            return None
        if self.no_feed_since_ns is None:
            self.no_feed_since_ns = now
        if self.trip is not None or not self._enabled or now - self.no_feed_since_ns < self._trip_after_ns:
            return None
        self.trip = FeedTrip(now, self.no_feed_since_ns, why)
        return self.trip

    def rearm(self, any_usable: bool) -> str | None:
        """Re-arm on an operator's word; the reason it cannot be, else None."""
        if self.trip is None:
            return "not tripped"
        if not any_usable:
            return "no usable feed"
        self.trip = None
        self.no_feed_since_ns = None
        return None
