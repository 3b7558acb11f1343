"""A scenario's ``stack.market_data``: the feeds the venue publishes and the OMS's policy on them.

The stack owns the addresses (each OMS instance reaches each feed through its own fault-proxy hop,
``<instance>->feed-<name>``), so a scenario names feeds, never URLs::

    stack:
      market_data: {feeds: [A, B], primary: A, max_feed_age_ms: 1500, divergence_bp: 25}
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field, model_validator

from trading_stack.market_data.config import FeedName, MarketDataConfig, MarketDataPolicy

__all__ = ["MarketDataSection", "feed_hop_destination"]


def feed_hop_destination(feed: str) -> str:
    """The name a feed has as a hop's destination: ``A`` -> ``feed-a`` (``oms-primary->feed-a``)."""
    return f"feed-{feed.lower()}"


class MarketDataSection(MarketDataPolicy):
    feeds: tuple[FeedName, ...] = Field(default=("A", "B"), min_length=1, max_length=8)
    updates_per_s: float | None = Field(
        default=None, gt=0, le=100_000, allow_inf_nan=False,
        description="each feed's updates per second per symbol; None: the venue's default")

    @model_validator(mode="after")
    def _feeds_distinct_primary_among_them(self) -> MarketDataSection:
        lowered = [feed.lower() for feed in self.feeds]
        if len(set(lowered)) != len(lowered):
            raise ValueError(f"feed names must differ (ignoring case): {', '.join(self.feeds)}")
        if self.primary not in self.feeds:
            raise ValueError(f"primary {self.primary!r} is not one of the feeds ({', '.join(self.feeds)})")
        return self

    def config(self, urls: Mapping[str, str]) -> MarketDataConfig:
        """The OMS's configuration, given each feed's URL as this OMS instance reaches it."""
        policy = self.model_dump(exclude={"feeds", "updates_per_s"})
        return MarketDataConfig(**policy, feeds={feed: urls[feed] for feed in self.feeds})
