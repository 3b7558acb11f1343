"""The circuit breaker and kill switch carried out by the active OMS (docs/deploy.md §2.6).

After every fill the OMS marks its positions at the last price it traded each symbol at and
feeds the total PnL to the :class:`~trading_stack.deploy.breaker.CircuitBreaker`. A trip (or
the kill switch) is carried out in the breaker's order: entries are halted at once, every open
order is cancelled, then every position is flattened with market orders, resent until the book
is flat or an operator re-arms the breaker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol

from trading_stack.clock import MonotonicNs
from trading_stack.deploy.breaker import BreakerConfig, CircuitBreaker, Trip
from trading_stack.deploy.positions import Position
from trading_stack.gateway import PlaceResult
from trading_stack.http_api import ApiResult
from trading_stack.models import Fill, NewOrderRequest, Order, Side

log = logging.getLogger(__name__)

BREAKER_TRIPPED = "BreakerTripped"
FLAT = "Flat"
PNL_INTERVAL_NS = 100_000_000
ORDER_DONE_WAIT_S = 1.0
FLATTEN_RETRY_S = 0.2


class BreakerHost(Protocol):
    """What the breaker needs of the OMS it protects."""

    def open_orders(self) -> list[Order]: ...

    def costed_positions(self) -> dict[str, Position]: ...

    def order(self, order_id: str) -> Order | None: ...

    async def cancel_order(self, order: Order) -> PlaceResult: ...

    async def send_market(self, symbol: str, side: Side, qty: int) -> PlaceResult: ...

    def alert(self, alert: str, detail: Mapping[str, Any]) -> None: ...

    def publish_pnl(self, pnl: float, peak: float) -> None: ...


Spawn = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]


class BreakerRuntime:
    def __init__(
        self, config: BreakerConfig | None, host: BreakerHost, clock: MonotonicNs, spawn: Spawn
    ) -> None:
        self.breaker = CircuitBreaker(config)
        self.marks: dict[str, float] = {}
        self._host = host
        self._clock = clock
        self._spawn = spawn
        self._last_pnl_ns: int | None = None
        self._carrying_out: asyncio.Task[Any] | None = None
        self._halting: asyncio.Task[Any] | None = None  # a trip decided elsewhere (the feed breaker)

    @property
    def trip(self) -> Trip | None:
        return self.breaker.trip

    @property
    def flattening(self) -> bool:
        return self._carrying_out is not None and not self._carrying_out.done()

    def pnl(self) -> float:
        """Realised plus marked PnL over every symbol (a symbol never traded is marked at cost)."""
        positions = self._host.costed_positions()
        return sum(p.total_pnl(self.marks.get(symbol, p.avg_price)) for symbol, p in positions.items())

    def on_fill(self, fill: Fill) -> None:
        now = self._clock()
        self.marks[fill.symbol] = fill.price
        pnl = self.pnl()
        trip = self.breaker.observe(now, pnl)
        if self._last_pnl_ns is None or now - self._last_pnl_ns >= PNL_INTERVAL_NS or trip is not None:
            self._last_pnl_ns = now
            self._host.publish_pnl(pnl, self.breaker.peak_pnl)
        if trip is not None:
            self._carry_out(trip)

    def refusal(self, request: NewOrderRequest, position: int) -> ApiResult | None:
        """503 for an order the tripped breaker does not admit (every order while flattening)."""
        trip = self.breaker.trip
        if trip is None:
            return None
        if self.flattening or not self.breaker.admits(position, request.side.sign * request.qty):
            return ApiResult(503, {"error": "halted", "reason": trip.reason.value})
        return None

    def kill(self, operator: str) -> ApiResult:
        trip = self.breaker.kill(self._clock(), operator)
        if trip is None:
            current = self.breaker.trip
            assert current is not None
            return ApiResult(409, {"error": "already tripped", "trip": current.model_dump(mode="json")})
        self._carry_out(trip)
        return ApiResult(200, {"trip": trip.model_dump(mode="json")})

    async def rearm(self) -> ApiResult:
        if self.breaker.trip is None:
            return ApiResult(409, {"error": "not tripped"})
        task, self._carrying_out = self._carrying_out, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.breaker.rearm(self.pnl())
        return ApiResult(200, {"state": self.breaker.state.value, "peak": self.breaker.peak_pnl})

    async def stop(self) -> None:
        task, self._carrying_out = self._carrying_out, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.end_halt()

    def halt(self, detail: Mapping[str, Any], flatten: bool) -> None:
        """A trip decided outside the PnL limits (the feed breaker, issue 16): ``BreakerTripped`` with
        ``detail``, then every open order cancelled (resent until none is open) and, if ``flatten``,
        every position flattened as for a PnL trip. Entries are refused by whoever decided the trip."""
        self._host.alert(BREAKER_TRIPPED, detail)
        log.warning("breaker tripped (%s): cancelling%s", detail.get("reason"),
                    ", flattening" if flatten else "")
        if self._halting is None or self._halting.done():
            self._halting = self._spawn(self._cancel_and_flatten(flatten), "breaker-halt")

    async def end_halt(self) -> None:
        """Stop carrying out :meth:`halt` (its trip was re-armed)."""
        task, self._halting = self._halting, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def unwind(self) -> None:
        """Cancel every open order and flatten every position, without a trip (a deploy's rollback);
        returns once the book is flat with no order open (the caller bounds it)."""
        await self._cancel_and_flatten()

    # -- carrying a trip out ---------------------------------------------------------------
    def _carry_out(self, trip: Trip) -> None:
        detail = {"reason": trip.reason.value, "pnl": trip.pnl, "peak": trip.peak_pnl,
                  "operator": trip.operator}
        self._host.alert(BREAKER_TRIPPED, detail)
        log.warning("breaker tripped (%s): halting entries, cancelling, flattening", trip.reason)
        self._carrying_out = self._spawn(self._cancel_and_flatten(), "breaker")

    async def _cancel_and_flatten(self, flatten: bool = True) -> None:
        while True:
            await self._cancel(self._host.open_orders())
            open_positions = {s: p.qty for s, p in self._host.costed_positions().items() if p.qty and flatten}
            if not open_positions and not self._host.open_orders():
                if flatten:
                    self._host.alert(FLAT, {"positions": {}})
                return
            if not open_positions:  # cancels still unanswered or refused: send them again
                await asyncio.sleep(FLATTEN_RETRY_S)
                continue
            sent = await asyncio.gather(*(
                self._host.send_market(symbol, Side.SELL if qty > 0 else Side.BUY, abs(qty))
                for symbol, qty in sorted(open_positions.items())
            ))
            await self._wait_done([r.order.order_id for r in sent if r.order is not None])
            if not any(r.status == 201 for r in sent):
                await asyncio.sleep(FLATTEN_RETRY_S)

    async def _cancel(self, orders: list[Order]) -> None:
        if orders:
            await asyncio.gather(*(self._host.cancel_order(order) for order in orders))

    async def _wait_done(self, order_ids: list[str]) -> None:
        """Until the flattening orders are done (bounded; an order still open is cancelled next round)."""
        deadline = self._clock() + int(ORDER_DONE_WAIT_S * 1e9)
        while self._clock() < deadline:
            orders = [self._host.order(order_id) for order_id in order_ids]
            if all(o is None or o.status.is_done for o in orders):
                return
            await asyncio.sleep(0.02)
