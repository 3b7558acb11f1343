"""Market data for the reference OMS (issue 16): two feeds, the best one traded on, never bad prices.

- :mod:`~trading_stack.market_data.config`: ``OmsConfig.market_data`` and its defaults' reasons;
- :mod:`~trading_stack.market_data.messages`: the feed protocol's frames;
- :mod:`~trading_stack.market_data.feed_state`: one feed's quotes, sequence, clocks, gap recovery;
- :mod:`~trading_stack.market_data.handler`: one feed's connection (subscribe, snapshot, reconnect);
- :mod:`~trading_stack.market_data.evidence`: the venue's executions as the third source;
- :mod:`~trading_stack.market_data.selector`: feed health, divergence, which feed is traded on;
- :mod:`~trading_stack.market_data.pricing`: what pricing an order means here;
- :mod:`~trading_stack.market_data.feed_breaker`: total feed loss halts until an operator re-arms;
- :mod:`~trading_stack.market_data.runtime`: all of it in a running OMS, and what it publishes.

Only the configuration is imported here (``trading_stack.config`` needs it); the rest is imported
where it is used, so a configuration load pulls no network code.
"""

from trading_stack.market_data.config import FeedName, MarketDataConfig

__all__ = ["FeedName", "MarketDataConfig"]
