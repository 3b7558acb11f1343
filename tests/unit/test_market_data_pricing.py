"""Pricing off the selected feed and the feed breaker, in the runtime without sockets
(trading_stack.market_data.pricing, .feed_breaker, .runtime): a fake host and a fake clock."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import ValidationError

from trading_stack.defects import Defect
from trading_stack.http_api import ApiResult
from trading_stack.market_data.config import MarketDataConfig
from trading_stack.market_data.feed_breaker import FeedBreaker
from trading_stack.market_data.feed_state import Quote
from trading_stack.market_data.messages import QuoteFrame
from trading_stack.market_data.pricing import Priced, Refused, protection_price
from trading_stack.market_data.runtime import MarketData
from trading_stack.market_data.section import MarketDataSection
from trading_stack.models import Fill, NewOrderRequest, OrdType, Side

MS = 1_000_000
FEEDS = {"A": "ws://127.0.0.1:1/md", "B": "ws://127.0.0.1:2/md"}


class Host:
    def __init__(self) -> None:
        self.trading = True
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.alerts: list[tuple[str, dict[str, Any]]] = []
        self.halts: list[tuple[dict[str, Any], bool]] = []
        self.halt_ended = 0

    def publish_market_data(self, suffix: str, body: Mapping[str, Any]) -> None:
        self.published.append((suffix, dict(body)))

    def alert(self, alert: str, detail: Mapping[str, Any]) -> None:
        self.alerts.append((alert, dict(detail)))

    def halt_for_feed_loss(self, detail: Mapping[str, Any], flatten: bool) -> None:
        self.halts.append((dict(detail), flatten))

    async def end_feed_halt(self) -> None:
        self.halt_ended += 1


class Desk:
    def __init__(self, *defects: Defect, **config: Any) -> None:
        self.now = 0
        self.host = Host()
        self.config = MarketDataConfig(feeds=FEEDS, symbols=("BTC-USD",), **config)
        self.md = MarketData(self.config, frozenset(defects), lambda: self.now, self.host,
                             lambda _coro, _name: pytest.fail("nothing is spawned here"))
        self.seq = 0
        for state in self.md.states.values():
            state.on_connected()

    def quotes(self, bid: float = 99.99, ask: float = 100.01, feeds: tuple[str, ...] = ("A", "B")) -> None:
        self.seq += 1
        for feed in feeds:
            frame = QuoteFrame(False, self.seq, None, "BTC-USD", bid, ask, None)
            self.md.states[feed].on_frame(frame, self.now)

    def later(self, ms: int) -> None:
        self.now += ms * MS

    def order(self, type_: str = "market", side: str = "buy", price: float | None = None) -> Priced | Refused:
        return self.md.price(NewOrderRequest(symbol="BTC-USD", side=Side(side), qty=1, type=OrdType(type_),
                                             price=price))


def test_a_market_order_goes_out_as_a_marketable_limit_through_the_touch_by_the_collar() -> None:
    quote = Quote(bid=99.99, ask=100.01, last=None, seq=1, received_ns=0)
    assert protection_price(Side.BUY, quote, 50, 0.01) == 100.52  # 100.51005 up to the tick
    assert protection_price(Side.SELL, quote, 50, 0.01) == 99.49  # 99.49005 down to the tick
    desk = Desk()
    desk.quotes()
    desk.later(10)
    priced = desk.order()
    assert isinstance(priced, Priced)
    sent = (priced.request.type, priced.request.price, priced.feed, priced.reference)
    assert sent == (OrdType.LIMIT, 100.52, "A", 100.01)
    assert priced.record()["quote_age_ms"] == 10.0
    assert priced.record()["client_type"] == "market"


def test_a_limit_order_far_through_the_market_is_a_fat_finger_and_one_inside_the_band_goes_as_it_is() -> None:
    desk = Desk()
    desk.quotes()  # 99.99 / 100.01
    inside = desk.order("limit", price=105.0)  # 499 bp above the ask
    assert isinstance(inside, Priced)
    assert (inside.request.price, inside.reference) == (105.0, 100.01)
    bought_high = desk.order("limit", "buy", price=105.1)
    assert isinstance(bought_high, Refused)
    assert (bought_high.status, bought_high.body["error"]) == (422, "price band")
    assert "509 bp above A's ask 100.01" in bought_high.body["detail"]
    sold_low = desk.order("limit", "sell", price=94.9)
    assert isinstance(sold_low, Refused)
    assert "509 bp below A's bid 99.99" in sold_low.body["detail"]


@pytest.mark.parametrize(("side", "price"),
                         [("buy", 50.0), ("buy", 0.01), ("sell", 200.0), ("sell", 10_000.0)])
def test_a_passive_limit_resting_however_far_from_the_market_is_not_refused(side: str, price: float) -> None:
    desk = Desk()
    desk.quotes()
    resting = desk.order("limit", side, price=price)  # e.g. the harness's probe: a buy at half the price
    assert isinstance(resting, Priced), resting
    assert resting.request.price == price


def test_no_order_is_ever_priced_off_a_quote_older_than_the_limit() -> None:
    desk = Desk()
    desk.quotes()
    desk.later(1500)
    assert isinstance(desk.order(), Priced)  # exactly at the limit
    desk.later(1)
    refused = desk.order()
    assert isinstance(refused, Refused)
    assert refused.status == 503
    assert refused.body["error"] == "no usable market data"
    assert "A stale" in refused.body["detail"]
    assert "B stale" in refused.body["detail"]


def test_a_diverged_symbol_is_not_priced_and_an_unusable_selected_feed_is_refused() -> None:
    desk = Desk()
    desk.quotes(feeds=("A",))
    desk.quotes(103.0, 103.02, feeds=("B",))
    refused = desk.order("limit", price=100.0)
    assert isinstance(refused, Refused)
    assert refused.body["error"] == "market data diverged"

    pinned = Desk(Defect.NO_FEED_FAILOVER)
    pinned.quotes()
    pinned.later(1000)
    pinned.quotes(feeds=("B",))
    pinned.later(600)
    refused = pinned.order()
    assert isinstance(refused, Refused)
    assert refused.body["error"] == "market data unusable"


def test_total_feed_loss_trips_the_breaker_after_the_bound_and_a_rearm_needs_a_feed_and_an_operator() -> None:
    desk = Desk()
    desk.quotes()
    desk.md.evaluate()
    desk.later(1501)
    desk.md.evaluate()  # no usable feed from now
    desk.later(999)
    desk.md.evaluate()
    assert desk.host.halts == []
    desk.later(1)
    desk.md.evaluate()
    [(detail, flatten)] = desk.host.halts
    assert (detail["reason"], detail["no_feed_for_ms"], flatten) == ("feed-loss", 1000, False)
    assert detail["feeds"]["A"]["health"] == "stale"
    halted = desk.order()
    assert isinstance(halted, Refused)
    assert halted.body == {"error": "halted", "reason": "feed-loss",
                                                           "detail": halted.body["detail"]}

    async def rearm() -> ApiResult:
        return await desk.md.rearm("alice")

    import asyncio

    refused = asyncio.run(rearm())
    assert (refused.status, refused.body["error"]) == (409, "no usable feed")
    desk.quotes(feeds=("B",))
    desk.md.evaluate()
    assert isinstance(desk.order(), Refused)  # a feed is back: still halted until the operator says so
    rearmed = asyncio.run(rearm())
    assert (rearmed.status, rearmed.body) == (200, {"state": "armed", "selected": "B"})
    assert desk.host.halt_ended == 1
    assert desk.host.alerts[-1][1]["operator"] == "alice"
    assert isinstance(desk.order(), Priced)
    feeds_events = [body for suffix, body in desk.host.published if suffix == "feeds"]
    assert [e["breaker"] for e in feeds_events if not e["heartbeat"]][-2:] == ["tripped", "armed"]


def test_a_standby_does_not_trip_and_the_defect_never_does_but_prices_off_the_last_known_quote() -> None:
    standby = Desk()
    standby.host.trading = False
    standby.quotes()
    standby.later(5000)
    standby.md.evaluate()
    assert standby.host.halts == []

    blind = Desk(Defect.NO_FEED_BREAKER)
    blind.quotes()
    blind.later(60_000)
    blind.md.evaluate()
    priced = blind.order()
    assert blind.host.halts == []
    assert isinstance(priced, Priced)
    assert (priced.feed, priced.quote_age_ns, priced.request.price) == ("A", 60_000 * MS, 100.52)


def test_a_fill_is_the_third_source_that_decides_a_divergence() -> None:
    desk = Desk()
    desk.quotes(102.99, 103.01, feeds=("A",))
    desk.quotes(feeds=("B",))
    desk.md.on_fill(Fill(exec_id="E1", order_id="o", exchange_order_id=None, symbol="BTC-USD", side=Side.BUY,
                         qty=1, price=100.4, t_ns=0, instance="oms"))
    assert isinstance(desk.order(), Refused)  # diverged: judged by the feeds' quotes after the fill
    desk.later(20)
    desk.quotes(102.99, 103.01, feeds=("A",))
    desk.quotes(feeds=("B",))
    priced = desk.order()
    assert isinstance(priced, Priced)
    assert priced.feed == "B"


def test_the_feed_breaker_trips_once_and_not_on_a_blip() -> None:
    breaker = FeedBreaker(trip_after_ns=1000)
    assert breaker.observe(0, False, "x") is None
    assert breaker.observe(500, True, "") is None
    assert breaker.observe(600, False, "x") is None
    assert breaker.observe(1599, False, "x") is None
    trip = breaker.observe(1600, False, "gone")
    assert trip is not None
    assert (trip.no_feed_since_ns, trip.reason) == (600, "gone")
    assert breaker.observe(5000, False, "x") is None
    assert breaker.rearm(True) is None
    assert breaker.rearm(True) == "not tripped"


def test_the_config_and_the_scenario_section_check_what_they_take() -> None:
    with pytest.raises(ValidationError, match="primary 'C' is not one of the feeds"):
        MarketDataConfig(feeds=FEEDS, primary="C")
    with pytest.raises(ValidationError):
        MarketDataConfig(feeds={"A": "http://127.0.0.1:1/md"})
    section = MarketDataSection.model_validate({"primary": "B", "divergence_bp": 40})
    config = section.config({"A": "ws://h:1/md", "B": "ws://h:2/md"})
    assert (config.primary, config.divergence_bp, config.feed_order) == ("B", 40.0, ("B", "A"))
    with pytest.raises(ValidationError, match="must differ"):
        MarketDataSection.model_validate({"feeds": ["A", "a"]})
    with pytest.raises(ValidationError):
        MarketDataSection.model_validate({"feeds": ["A", "B"], "url": "ws://x"})
