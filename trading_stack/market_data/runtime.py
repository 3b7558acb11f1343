"""The OMS's market data at run time: one handler per feed, the selector, pricing and the feed breaker.

Every OMS instance with ``OmsConfig.market_data`` consumes its feeds from the start (a standby is
warm when promoted); only the active instance prices orders and lets the feed breaker act.

Published (``<prefix>.feeds``, beside the OMS's other events) whenever the selected feed, a feed's
health, the suspended symbols or the breaker change, and at least every ``publish_interval_ms``
(``"heartbeat": true``)::

    {"instance", "t_ns", "selected": "A"|null, "previous", "switch": bool, "reason", "heartbeat",
     "breaker": "armed"|"tripped", "suspended": {symbol: why},
     "feeds": {"A": {"health", "reason", "connected", "age_ms", "quote_age_ms", "price_age_ms", "seq",
                     "updates", "snapshots", "heartbeats", "duplicates", "gaps", "recoveries",
                     "crossed", "bad_frames", "errors", "connections"}}}

and for every client order priced, once the venue answered (``<prefix>.pricing``)::

    {"instance", "t_ns", "order_id", "status", "symbol", "side", "qty", "client_type", "price", "feed",
     "seq", "bid", "ask", "quote_age_ms", "reference"}

A trip of the feed breaker is the alert ``BreakerTripped`` with ``"reason": "feed-loss"``; its
re-arm ``BreakerRearmed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Protocol

import aiohttp

from trading_stack.clock import MonotonicNs
from trading_stack.defects import Defect
from trading_stack.http_api import ApiResult
from trading_stack.market_data.config import MarketDataConfig
from trading_stack.market_data.evidence import ExecutionEvidence
from trading_stack.market_data.feed_breaker import FeedBreaker, FeedTrip
from trading_stack.market_data.feed_state import FeedState, Quote
from trading_stack.market_data.handler import FeedHandler
from trading_stack.market_data.pricing import Priced, Refused, price_order
from trading_stack.market_data.selector import NS_PER_MS, FeedSelector, Selection
from trading_stack.models import Fill, NewOrderRequest

log = logging.getLogger(__name__)

__all__ = ["BREAKER_REARMED", "FEED_LOSS", "MarketData", "MarketDataHost"]

FEED_LOSS = "feed-loss"
BREAKER_REARMED = "BreakerRearmed"

Spawn = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]


class MarketDataHost(Protocol):
    """What market data needs of the OMS."""

    @property
    def trading(self) -> bool:
        """Whether this instance is the one trading (the feed breaker acts only then)."""
        ...

    def publish_market_data(self, suffix: str, body: Mapping[str, Any]) -> None: ...

    def alert(self, alert: str, detail: Mapping[str, Any]) -> None: ...

    def halt_for_feed_loss(self, detail: Mapping[str, Any], flatten: bool) -> None:
        """BreakerTripped with ``detail``, then cancel every open order (and flatten)."""
        ...

    async def end_feed_halt(self) -> None: ...


class MarketData:
    def __init__(self, config: MarketDataConfig, defects: frozenset[Defect], clock: MonotonicNs,
                 host: MarketDataHost, spawn: Spawn) -> None:
        self.config = config
        self._clock = clock
        self._host = host
        self._spawn = spawn
        retry_ns = config.snapshot_retry_ms * NS_PER_MS
        self.states = {name: FeedState(name, config.symbols, retry_ns) for name in config.feeds}
        self.evidence = ExecutionEvidence(config.divergence_bp, config.reference_window_ms * NS_PER_MS)
        self.selector = FeedSelector(config, clock(), failover=Defect.NO_FEED_FAILOVER not in defects,
                                     divergence_check=Defect.NO_DIVERGENCE_CHECK not in defects)
        self._blind = Defect.NO_FEED_BREAKER in defects
        self.breaker = FeedBreaker(config.total_loss_trip_ms * NS_PER_MS, enabled=not self._blind)
        self._task: asyncio.Task[Any] | None = None
        self._published: tuple[Any, ...] | None = None
        self._published_ns: int | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = self._spawn(self._run(), "market-data")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        async with aiohttp.ClientSession() as session, asyncio.TaskGroup() as group:
            for name, url in self.config.feeds.items():
                handler = FeedHandler(self.states[name], url, self.config, self._clock, session)
                group.create_task(handler.run(), name=f"feed-{name}")
            group.create_task(self._watch(), name="feed-selector")

    async def _watch(self) -> None:
        interval_s = self.config.evaluate_interval_ms / 1000
        while True:
            try:
                self.evaluate()
            except Exception:  # the selector must keep looking whatever one look raised
                log.exception("market data: evaluation failed")
            await asyncio.sleep(interval_s)

    # -- the selection and what follows it -------------------------------------------------
    def evaluate(self, now: int | None = None) -> Selection:
        """Look at every feed now: select, let the breaker observe, publish what changed."""
        now = self._clock() if now is None else now
        selection = self.selector.evaluate(self.states, self.evidence, now)
        if selection.switched:
            log.warning("market data: %s -> %s (%s)", selection.previous, selection.feed, selection.reason)
        if self._host.trading:
            trip = self.breaker.observe(now, bool(selection.usable), selection.reason)
            if trip is not None:
                self._trip(trip, selection, now)
        self._publish(selection, now)
        return selection

    def _trip(self, trip: FeedTrip, selection: Selection, now: int) -> None:
        log.error("market data: no usable feed for %d ms: feed breaker tripped", (now - trip.no_feed_since_ns)
                  // NS_PER_MS)
        detail = {"reason": FEED_LOSS, "pnl": None, "peak": None, "operator": None, "detail": trip.reason,
                  "no_feed_for_ms": (now - trip.no_feed_since_ns) // NS_PER_MS,
                  "flatten": self.config.flatten_on_total_loss,
                  "feeds": {name: {"health": s.health.value, "reason": s.reason}
                            for name, s in selection.statuses.items()}}
        self._host.halt_for_feed_loss(detail, self.config.flatten_on_total_loss)

    def _publish(self, selection: Selection, now: int) -> None:
        signature = (selection.feed, tuple((n, s.health) for n, s in selection.statuses.items()),
                     tuple(sorted(selection.suspended)), self.breaker.state)
        changed = signature != self._published
        interval_ns = self.config.publish_interval_ms * NS_PER_MS
        due = self._published_ns is None or now - self._published_ns >= interval_ns
        if not changed and not due:
            return
        self._published, self._published_ns = signature, now
        self._host.publish_market_data("feeds", {**self.describe(selection), "previous": selection.previous,
                                                 "switch": selection.switched, "heartbeat": not changed})

    def describe(self, selection: Selection | None = None) -> dict[str, Any]:
        """The state ``/health/deep`` shows under ``market_data`` (and the feeds event carries)."""
        selection = self.evaluate() if selection is None else selection
        return {"selected": selection.feed, "reason": selection.reason, "breaker": self.breaker.state.value,
                "suspended": dict(selection.suspended),
                "feeds": {name: status.as_dict() for name, status in selection.statuses.items()}}

    # -- pricing -------------------------------------------------------------------------
    async def place(self, request: NewOrderRequest,
                    send: Callable[[NewOrderRequest], Awaitable[ApiResult]]) -> ApiResult:
        """Price ``request`` and send it, or refuse it (never sent); the pricing is published."""
        decision = self.price(request)
        if isinstance(decision, Refused):
            return ApiResult(decision.status, decision.body)
        result = await send(decision.request)
        body = result.body if isinstance(result.body, dict) else {}
        order = body.get("order") if result.status != 201 else body
        order_id = order.get("order_id") if isinstance(order, dict) else None
        self._host.publish_market_data("pricing", {**decision.record(), "order_id": order_id,
                                                   "status": result.status})
        return result

    def price(self, request: NewOrderRequest) -> Priced | Refused:
        now = self._clock()
        trip = self.breaker.trip
        if trip is not None:
            return Refused(503, {"error": "halted", "reason": FEED_LOSS, "detail": trip.reason})
        selection = self.evaluate(now)
        refusal = self._refusal(selection, request.symbol, now)
        if refusal is None:
            assert selection.feed is not None
            state = self.states[selection.feed]
            age = state.quote_age_ns(request.symbol, now)
            assert age is not None
            return price_order(request, selection.feed, state.quotes[request.symbol], age, self.config)
        if self._blind:  # defect no-feed-breaker: the last price known, however old
            known = self._last_known(request.symbol)
            if known is not None:
                feed, quote = known
                return price_order(request, feed, quote, now - quote.received_ns, self.config)
        return refusal

    def _refusal(self, selection: Selection, symbol: str, now: int) -> Refused | None:
        feed = selection.feed
        if feed is None:
            return Refused(503, {"error": "no usable market data", "detail": selection.reason})
        if symbol in selection.suspended:
            return Refused(503, {"error": "market data diverged", "symbol": symbol,
                                 "detail": selection.suspended[symbol]})
        status = selection.statuses[feed]
        if not status.usable:
            return Refused(503, {"error": "market data unusable", "feed": feed,
                                 "detail": f"{status.health.value}: {status.reason}"})
        age = self.states[feed].quote_age_ns(symbol, now)
        if age is None:
            return Refused(503, {"error": "no market data for the symbol", "symbol": symbol, "feed": feed})
        if age > self.config.max_feed_age_ms * NS_PER_MS:  # the rule itself, whatever the selector said
            return Refused(503, {"error": "market data stale", "symbol": symbol, "feed": feed,
                                 "detail": f"{symbol} quote {age // NS_PER_MS} ms old"})
        return None

    def _last_known(self, symbol: str) -> tuple[str, Quote] | None:
        last = self.selector.last_selected
        for name in ((last,) if last else ()) + self.config.feed_order:
            quote = self.states[name].last_known.get(symbol)
            if quote is not None:
                return name, quote
        return None

    # -- the third source and the operator -------------------------------------------------
    def on_fill(self, fill: Fill) -> None:
        """A fill: the third source, held against each feed's next quote of the symbol."""
        self.evidence.record(fill.symbol, fill.side, fill.price, self._clock())

    async def rearm(self, operator: str) -> ApiResult:
        selection = self.evaluate()
        trip = self.breaker.trip
        refusal = self.breaker.rearm(bool(selection.usable))
        if refusal is not None:
            return ApiResult(409, {"error": refusal, **self.describe(selection)})
        await self._host.end_feed_halt()
        assert trip is not None
        self._host.alert(BREAKER_REARMED, {"reason": FEED_LOSS, "operator": operator,
                                           "selected": selection.feed, "tripped_ns": trip.t_ns})
        self._publish(selection, self._clock())
        return ApiResult(200, {"state": self.breaker.state.value, "selected": selection.feed})

    @property
    def tripped(self) -> bool:
        return self.breaker.trip is not None
