"""The client-side order throttle: a token bucket sized from the venue's published rate limit.

A venue that limits each session to ``max_orders`` new orders in any ``window_s`` and bans the
session that goes beyond (seeds 001 and 003: API bans, rate-limit stress) costs far more than
the orders it refuses: while banned, nothing trades, not even the orders that would reduce risk.
The OMS therefore never sends faster than the limit: an order with no token is refused here
(HTTP 429, the client may send it again) instead of at the venue.

A token bucket admits at most ``capacity + rate * w`` orders in any span ``w``; the venue counts
a sliding window, so the bucket takes a share of the limit (:data:`HEADROOM`) for the steady rate
and a smaller share (:data:`BURST_SHARE`) for bursts, and together they stay below it in every
window, with room for the jitter between our send and the venue's count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BURST_SHARE", "HEADROOM", "OrderThrottle", "PublishedRateLimit", "TokenBucket"]

HEADROOM = 0.75
"""the share of the venue's limit the steady rate uses"""
BURST_SHARE = 0.2
"""the share of the venue's limit a burst may take at once (HEADROOM + BURST_SHARE < 1)"""


class PublishedRateLimit(BaseModel):
    """The venue's published limit on new orders per session: ``max_orders`` in any ``window_s``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_orders: int = Field(gt=0)
    window_s: float = Field(gt=0, allow_inf_nan=False)


@dataclass
class TokenBucket:
    """``capacity`` tokens, refilled at ``rate_per_s``; one order takes one."""

    capacity: float
    rate_per_s: float
    clock: Callable[[], float]
    tokens: float = 0.0
    _at: float | None = None

    @classmethod
    def full(cls, capacity: float, rate_per_s: float, clock: Callable[[], float]) -> TokenBucket:
        return cls(capacity, rate_per_s, clock, tokens=capacity, _at=clock())

    def take(self) -> bool:
        """Take a token when there is one; False (nothing taken) when the bucket is empty."""
        now = self.clock()
        if self._at is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self._at) * self.rate_per_s)
        self._at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class OrderThrottle:
    """Admits new orders at the venue's published rate (less headroom); no limit: admits all."""

    def __init__(self, limit: PublishedRateLimit | None, clock: Callable[[], float]) -> None:
        self._limit = limit
        self._bucket = None if limit is None else TokenBucket.full(
            capacity=max(1.0, limit.max_orders * BURST_SHARE),
            rate_per_s=limit.max_orders * HEADROOM / limit.window_s,
            clock=clock,
        )
        self.refused = 0

    def refusal(self) -> str | None:
        """Why the next new order may not go to the venue now (counted), or None (a token taken)."""
        if self._bucket is None or self._bucket.take():
            return None
        assert self._limit is not None
        self.refused += 1
        return (f"throttled: the venue allows {self._limit.max_orders} new orders per "
                f"{self._limit.window_s:g} s; send again later")
