"""The circuit breaker and kill switch carried out by the active OMS (docs/deploy.md §2.6).

After every fill the OMS marks its positions at the last price it traded each symbol at and
feeds the total PnL to the :class:`~trading_stack.deploy.breaker.CircuitBreaker`. A trip (or
the kill switch) is carried out in the breaker's order: entries are halted at once, every open
order is cancelled, then every position is flattened with market orders, resent until the book
is flat or an operator re-arms the breaker.

With a :class:`~trading_stack.trip_keeper.TripKeeper` the trip outlives the process: it is stored,
an instance about to become active takes on the trip in force (:meth:`BreakerRuntime.honour_persisted`)
and an active one polls for trips and re-arms made elsewhere (:meth:`BreakerRuntime.watch`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol

from trading_stack.clock import MonotonicNs
from trading_stack.deploy.breaker import BreakerConfig, BreakerState, CircuitBreaker, Trip
from trading_stack.deploy.positions import Position
from trading_stack.gateway import PlaceResult
from trading_stack.http_api import ApiResult
from trading_stack.models import Fill, NewOrderRequest, Order, Side
from trading_stack.trip_keeper import DB_ERRORS, TRIP_POLL_S, TripRecords
from trading_stack.trip_store import PersistedTrip

log = logging.getLogger(__name__)

BREAKER_TRIPPED = "BreakerTripped"
BREAKER_REARMED = "BreakerRearmed"
BREAKER_STATE_UNKNOWN = "BreakerStateUnknown"
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
        self, config: BreakerConfig | None, host: BreakerHost, clock: MonotonicNs, spawn: Spawn,
        keeper: TripRecords | None = None,
    ) -> None:
        self.breaker = CircuitBreaker(config)
        self.keeper = keeper
        self.marks: dict[str, float] = {}
        self._host = host
        self._clock = clock
        self._spawn = spawn
        self._last_pnl_ns: int | None = None
        self._carrying_out: asyncio.Task[Any] | None = None
        self._halting: asyncio.Task[Any] | None = None  # a trip decided elsewhere (the feed breaker)
        self._tripped_by: str | None = None  # the instance whose trip this is, when not this one

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
            if self.keeper is not None:
                self._spawn(self.keeper.record(trip), "trip-record")

    def refusal(self, request: NewOrderRequest, position: int) -> ApiResult | None:
        """503 for an order the tripped breaker does not admit (every order while flattening)."""
        trip = self.breaker.trip
        if trip is None:
            return None
        if self.flattening or not self.breaker.admits(position, request.side.sign * request.qty):
            return ApiResult(503, {"error": "halted", "reason": trip.reason.value})
        return None

    async def kill(self, operator: str) -> ApiResult:
        """The kill switch: halts here at once, then is stored (``persisted`` says whether it was)."""
        trip = self.breaker.kill(self._clock(), operator)
        if trip is None:
            current = self.breaker.trip
            assert current is not None
            return ApiResult(409, {"error": "already tripped", "trip": current.model_dump(mode="json")})
        self._carry_out(trip)
        persisted = self.keeper is not None and await self.keeper.record(trip)
        return ApiResult(200, {"trip": trip.model_dump(mode="json"), "persisted": persisted})

    async def rearm(self, operator: str = "") -> ApiResult:
        """Re-arm: stored first (every instance must see it), then here; 503 when it could not be stored."""
        cleared = 0
        if self.keeper is not None:
            try:
                cleared = await self.keeper.clear(operator)
            except DB_ERRORS as err:
                detail = f"{type(err).__name__}: {err}"
                return ApiResult(503, {"error": "re-arm not persisted", "detail": detail})
        if self.breaker.trip is None:
            if not cleared:
                return ApiResult(409, {"error": "not tripped"})
            return ApiResult(200, {"state": BreakerState.ARMED.value, "peak": self.breaker.peak_pnl})
        await self._rearm_here(operator, "api")
        return ApiResult(200, {"state": self.breaker.state.value, "peak": self.breaker.peak_pnl})

    async def _rearm_here(self, operator: str, source: str) -> None:
        task, self._carrying_out = self._carrying_out, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.breaker.rearm(self.pnl())
        self._host.alert(BREAKER_REARMED, {"operator": operator, "source": source})

    # -- a trip kept in the database ---------------------------------------------------------
    async def honour_persisted(self, quiet: bool = False) -> bool:
        """Take on the trip in force in the database (before this instance trades); False when the
        database could not say (alert ``BreakerStateUnknown`` unless ``quiet``; :meth:`watch` asks on)."""
        keeper = self.keeper
        if keeper is None:
            return True
        generation = keeper.generation
        try:
            persisted = await keeper.in_force()
        except DB_ERRORS as err:
            error = f"{type(err).__name__}: {err}"
            if not quiet:
                log.error("breaker state unknown: %s", error)
                self._host.alert(BREAKER_STATE_UNKNOWN, {"error": error})
            return False
        if generation == keeper.generation:  # else a re-arm came in meanwhile: the read is stale
            await self._follow(keeper, persisted)
        return True

    async def _follow(self, keeper: TripRecords, persisted: PersistedTrip | None) -> None:
        local = self.breaker.trip
        if persisted is not None and local is None and self.breaker.adopt(persisted.trip):
            keeper.adopted(persisted)
            self._carry_out(persisted.trip, adopted_from=persisted.instance)
        elif persisted is None and local is not None and keeper.stored(local, self._tripped_by):
            log.warning("breaker re-armed elsewhere: re-arming")
            await self._rearm_here("", "database")

    async def watch(self, trading: Callable[[], bool]) -> None:
        """While this instance is ``trading``, follow the database's trip (taken on) and re-arm (followed)."""
        answered = True
        while True:
            await asyncio.sleep(TRIP_POLL_S)
            if trading():
                was, answered = answered, await self.honour_persisted(quiet=True)
                if was and not answered:  # once per outage: the database is someone else's alarm
                    log.warning("breaker state: the database does not answer; still asking")

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
    def _carry_out(self, trip: Trip, adopted_from: str | None = None) -> None:
        detail = {"reason": trip.reason.value, "pnl": trip.pnl, "peak": trip.peak_pnl,
                  "operator": trip.operator}
        if adopted_from is not None:
            detail["adopted_from"] = adopted_from
        self._tripped_by = adopted_from
        self._host.alert(BREAKER_TRIPPED, detail)
        log.warning("breaker tripped (%s%s): halting entries, cancelling, flattening", trip.reason,
                    "" if adopted_from is None else f", tripped by {adopted_from}")
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
