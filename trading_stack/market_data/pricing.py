"""What "pricing an order" means in this OMS, and the rule that it is never done off bad data (pure).

With market data configured, every client order is priced against the selected feed's quote of
its symbol before it may go out:

- a **market** order goes to the venue as a **marketable limit** order: its protection price is the
  quote's ask (buy) or bid (sell) moved ``market_collar_bp`` through the market, rounded to the
  tick away from the market. It fills like a market order while the market is where the feed said;
  it cannot fill further away than the collar if the market moved or the feed was wrong;
- a **limit** order keeps the client's price, but one further than ``limit_band_bp`` *through* the
  market is refused as a fat finger (422 ``{"error": "price band"}``): a buy above the quote's ask
  by more than the band, a sell below its bid by more. The band is one-sided: such an order would
  trade at once, far from the market, while a passive limit resting however far away (a buy well
  under the bid, a sell well over the ask) trades nothing unless the market comes to it, which is
  the client's intent, so it goes as it is.

Either way the quote must be usable: from the selected feed, healthy, no older than
``max_feed_age_ms``, and on a symbol whose feeds do not diverge unresolved. Otherwise the order is
refused (503, the reason in ``error``) and never sent. Orders that are not the clients' (the
breakers' cancels and flattening, an operator's flatten) are not priced: they reduce risk and
must go out even when no feed is usable, as venue market orders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from trading_stack.market_data.config import MarketDataConfig
from trading_stack.market_data.feed_state import Quote
from trading_stack.models import NewOrderRequest, OrdType, Side

__all__ = ["Priced", "Refused", "price_order", "protection_price"]


@dataclass(frozen=True)
class Priced:
    """The order as it goes out, and what it was priced off (published as ``<prefix>.pricing``)."""

    request: NewOrderRequest
    client_type: OrdType
    feed: str
    quote: Quote
    quote_age_ns: int
    reference: float
    """the price the check used: the quote's ask (a buy) or bid (a sell), the touch it would trade at"""

    def record(self) -> dict[str, Any]:
        return {"symbol": self.request.symbol, "side": self.request.side.value, "qty": self.request.qty,
                "client_type": self.client_type.value, "price": self.request.price, "feed": self.feed,
                "seq": self.quote.seq, "bid": self.quote.bid, "ask": self.quote.ask,
                "quote_age_ms": round(self.quote_age_ns / 1e6, 3), "reference": self.reference}


@dataclass(frozen=True)
class Refused:
    status: int
    body: dict[str, Any]


def protection_price(side: Side, quote: Quote, collar_bp: float, tick: float) -> float:
    """The limit price a market order of ``side`` goes out at: through the touch by the collar, on tick."""
    collar = collar_bp / 10_000
    decimals = max(0, -math.floor(math.log10(tick)) + 2)
    if side is Side.BUY:
        ticks = math.ceil(quote.ask * (1 + collar) / tick - 1e-9)
    else:
        ticks = max(1, math.floor(quote.bid * (1 - collar) / tick + 1e-9))
    return round(ticks * tick, decimals)


def price_order(request: NewOrderRequest, feed: str, quote: Quote, quote_age_ns: int,
                config: MarketDataConfig) -> Priced | Refused:
    """Price ``request`` off ``quote`` (already known usable and young enough)."""
    if request.type is OrdType.MARKET:
        touch = quote.ask if request.side is Side.BUY else quote.bid
        price = protection_price(request.side, quote, config.market_collar_bp, config.tick)
        priced = request.model_copy(update={"type": OrdType.LIMIT, "price": price})
        return Priced(priced, OrdType.MARKET, feed, quote, quote_age_ns, touch)
    assert request.price is not None  # a limit order has one (NewOrderRequest's validator)
    buy = request.side is Side.BUY
    touch = quote.ask if buy else quote.bid
    through = (request.price - touch if buy else touch - request.price) / touch * 10_000
    if through > config.limit_band_bp:
        where, name = ("above", "ask") if buy else ("below", "bid")
        return Refused(422, {"error": "price band", "symbol": request.symbol, "feed": feed,
                             "detail": f"{request.side.value} limit {request.price} is {through:.0f} bp "
                                       f"{where} {feed}'s {name} {touch} (band {config.limit_band_bp:g} bp "
                                       "through the market)"})
    return Priced(request, OrdType.LIMIT, feed, quote, quote_age_ns, touch)
