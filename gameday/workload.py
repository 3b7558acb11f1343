"""Seeded order flow: a pure schedule of orders, and the client that sends them to the OMS.

``order_flow`` is pure (a function of seed and parameters; time is an offset, not the clock), so
the same seed gives the same orders at the same offsets. ``FrontDoor`` is the only thing here
that touches the network: it routes each order to the active OMS the way a client with a list
of endpoints would (through the instances' :class:`~gameday.oms_api.OmsApi`), and records every
attempt in the history.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from gameday.clock import sleep_until
from gameday.history import History, OpKind, OpType
from gameday.oms_api import DEFAULT_API, Endpoint, OmsApi

REFERENCE_PRICES = {"BTC-USD": 60000.0, "ETH-USD": 3000.0, "SOL-USD": 150.0}
DEFAULT_REFERENCE_PRICE = 100.0


def reference_price(symbol: str) -> float:
    """Where the venue's price process starts and around which the workload prices its orders."""
    return REFERENCE_PRICES.get(symbol, DEFAULT_REFERENCE_PRICE)


@dataclass(frozen=True)
class OrderRequest:
    symbol: str
    side: str
    qty: int
    type: str
    price: float | None
    intent: str | None = None
    """The strategy intent the order carries out (recorded in the history, not sent to the OMS)."""

    def body(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "side": self.side, "qty": self.qty, "type": self.type,
                "price": self.price, "tif": "day"}


@dataclass(frozen=True)
class ScheduledOrder:
    offset_s: float
    request: OrderRequest


def order_count(orders_per_second: float, duration_s: float) -> int:
    """How many orders a flow at ``orders_per_second`` sends in ``duration_s``."""
    return int(duration_s * orders_per_second)


def order_flow(
    seed: int | str,
    orders_per_second: float,
    duration_s: float,
    symbols: Sequence[str],
    market_order_ratio: float,
    *,
    start_s: float = 0.0,
) -> Iterator[ScheduledOrder]:
    """Orders at a steady rate; limit prices straddle the reference so some rest and some fill."""
    rng = random.Random(f"workload:{seed}")
    interval = 1.0 / orders_per_second
    for n in range(order_count(orders_per_second, duration_s)):
        offset = start_s + n * interval
        symbol = rng.choice(list(symbols))
        side = rng.choice(("buy", "sell"))
        qty = rng.randint(1, 10)
        if rng.random() < market_order_ratio:
            yield ScheduledOrder(offset, OrderRequest(symbol, side, qty, "market", None))
            continue
        reference = reference_price(symbol)
        # within ±0.5 % of the reference: about half are marketable
        spread = rng.uniform(-0.005, 0.005) * reference
        price = round(reference + spread if side == "buy" else reference - spread, 2)
        yield ScheduledOrder(offset, OrderRequest(symbol, side, qty, "limit", price))


@dataclass(frozen=True)
class Strategy:
    """A strategy building a position: every order an intent to trade ``side`` now (a market order
    of 1..``max_lots`` lots) with an id, so the same intent sent by two instances is one intent."""

    side: str = "buy"
    max_lots: int = 10


def strategy_flow(seed: int | str, orders_per_second: float, duration_s: float, symbols: Sequence[str],
                  strategy: Strategy, *, start_s: float = 0.0) -> Iterator[ScheduledOrder]:
    """The strategy's intents at a steady rate, ids ``<seed>:intent-<n>``."""
    rng = random.Random(f"strategy:{seed}")
    interval = 1.0 / orders_per_second
    for n in range(order_count(orders_per_second, duration_s)):
        symbol = rng.choice(list(symbols))
        qty = rng.randint(1, strategy.max_lots)
        yield ScheduledOrder(start_s + n * interval, OrderRequest(symbol, strategy.side, qty, "market", None,
                                                                  intent=f"{seed}:intent-{n}"))


@dataclass(frozen=True)
class Burst:
    start_s: float
    duration_s: float
    orders_per_second: float
    market_order_ratio: float


@dataclass(frozen=True)
class WorkloadFlow:
    """The steady flow merged with each burst's own seeded flow, in offset order.

    Orders are made as they are iterated (each iteration gives the same orders), never held as a
    list: a day at 10,000 orders/s is 864 million orders. ``len`` is arithmetic.
    """

    seed: int
    orders_per_second: float
    duration_s: float
    symbols: tuple[str, ...]
    market_order_ratio: float
    bursts: tuple[Burst, ...] = ()
    strategy: Strategy | None = None
    """When set, every order (bursts' too) is one of the strategy's intents."""

    def _flow(self, seed: int | str, orders_per_second: float, duration_s: float, market_order_ratio: float,
              start_s: float = 0.0) -> Iterator[ScheduledOrder]:
        if self.strategy is not None:
            return strategy_flow(seed, orders_per_second, duration_s, self.symbols, self.strategy,
                                 start_s=start_s)
        return order_flow(seed, orders_per_second, duration_s, self.symbols, market_order_ratio,
                          start_s=start_s)

    def __iter__(self) -> Iterator[ScheduledOrder]:
        flows = [self._flow(self.seed, self.orders_per_second, self.duration_s, self.market_order_ratio)]
        flows += [self._flow(f"{self.seed}:burst{index}", burst.orders_per_second, burst.duration_s,
                             burst.market_order_ratio, burst.start_s)
                  for index, burst in enumerate(self.bursts)]
        return heapq.merge(*flows, key=lambda order: order.offset_s)

    def __len__(self) -> int:
        return order_count(self.orders_per_second, self.duration_s) + sum(
            order_count(burst.orders_per_second, burst.duration_s) for burst in self.bursts)


def workload_flow(seed: int, orders_per_second: float, duration_s: float, symbols: Sequence[str],
                  market_order_ratio: float, bursts: Sequence[Burst] = (), *,
                  strategy: Strategy | None = None) -> WorkloadFlow:
    """The steady flow merged with each burst's own seeded flow, in offset order (made lazily)."""
    return WorkloadFlow(seed, orders_per_second, duration_s, tuple(symbols), market_order_ratio,
                        tuple(bursts), strategy)


@dataclass
class Placement:
    status: str  # "ok" | "fail" | "info"
    instance: str | None
    body: dict[str, Any]
    tried: list[str]


class FrontDoor:
    """Routes client orders to whichever OMS instance accepts them (the active one).

    Instances answer 503 when they are not the active lease holder; the router then tries the
    next. The instance that last accepted is tried first; with ``spread`` each order starts at
    the next instance in turn instead (a client misconfigured for active-active). ``api`` speaks
    to the instances (the stack's ``endpoints.oms_api``; default: the contract's).
    """

    def __init__(self, oms_urls: Mapping[str, str], session: aiohttp.ClientSession,
                 request_timeout_s: float = 3.0, *, spread: bool = False, api: OmsApi = DEFAULT_API) -> None:
        self._api = api
        self._urls = dict(oms_urls)
        timeout = aiohttp.ClientTimeout(total=request_timeout_s)
        self._endpoints = {name: Endpoint(name, url, session, timeout) for name, url in self._urls.items()}
        self._preferred: str | None = None
        self._turns = itertools.cycle(range(len(self._urls))) if spread else None

    def _order(self) -> list[str]:
        names = list(self._urls)
        if self._turns is not None:
            first = next(self._turns)
            return names[first:] + names[:first]
        if self._preferred in names:
            names.remove(self._preferred)
            names.insert(0, self._preferred)
        return names

    def _after(self, instance: str) -> str:
        names = list(self._urls)
        return names[(names.index(instance) + 1) % len(names)]

    async def place(self, request: OrderRequest) -> Placement:
        tried: list[str] = []
        last: dict[str, Any] = {"error": "no instance reachable"}
        for instance in self._order():
            tried.append(instance)
            try:
                reply = await self._api.place(self._endpoints[instance], request.body())
                body = reply.json()
                status = reply.status
            except TimeoutError:
                # the instance may or may not have sent it: the outcome is unknown; the next
                # order starts with another instance, as a client with a list of endpoints would
                self._preferred = self._after(instance)
                return Placement("info", instance, {"error": "timeout"}, tried)
            except (aiohttp.ClientError, ValueError) as error:
                last = {"error": f"{type(error).__name__}: {error}"}
                continue
            except Exception as error:  # the adapter failed: whether it sent the order is unknown
                self._preferred = self._after(instance)
                return Placement("info", instance, {"error": f"{self._api!r} raised {type(error).__name__}: "
                                                             f"{error}"}, tried)
            if status == 201:
                self._preferred = instance
                return Placement("ok", instance, body, tried)
            if status == 503:
                last = {"status": status, **(body if isinstance(body, dict) else {})}
                continue
            if status == 504:
                return Placement("info", instance, {"status": status, **body}, tried)
            return Placement("fail", instance, {"status": status, **(body if isinstance(body, dict) else {})},
                             tried)
        return Placement("fail", None, last, tried)

    async def cancel(self, instance: str, order_id: str) -> int:
        """The cancel's HTTP status; 0 when the call raised (whatever an adapter raised)."""
        try:
            return (await self._api.cancel(self._endpoints[instance], order_id)).status
        except Exception:
            return 0


class Broadcast:
    """Every order to every instance at once, each through a door of its own (no fallback): a strategy
    running in each region acts on the same signal (seed 002's active-active)."""

    def __init__(self, doors: Mapping[str, FrontDoor]) -> None:
        self.doors = dict(doors)

    @classmethod
    def to_instances(cls, oms_urls: Mapping[str, str], session: aiohttp.ClientSession,
                     request_timeout_s: float = 3.0, *, api: OmsApi = DEFAULT_API) -> Broadcast:
        return cls({name: FrontDoor({name: url}, session, request_timeout_s, api=api)
                    for name, url in oms_urls.items()})


async def _place(worker: str, request: OrderRequest, door: FrontDoor, history: History) -> None:
    """One placement, its invoke and its completion in the history."""
    invoked: dict[str, Any] = {"symbol": request.symbol, "side": request.side, "qty": request.qty,
                               "type": request.type, "price": request.price}
    if request.intent is not None:
        invoked["intent"] = request.intent
    history.append(OpKind.CLIENT, OpType.INVOKE, worker, "place", invoked)
    placement = await door.place(request)
    value: dict[str, Any]
    if placement.status == "ok":
        value = {"instance": placement.instance, "order": placement.body}
    else:
        value = {**placement.body, "tried": placement.tried}
    history.append(OpKind.CLIENT, OpType(placement.status), worker, "place", value)


async def drive_workload(
    flow: Iterable[ScheduledOrder], door: FrontDoor | Broadcast, history: History, *, started_ns: int,
    max_in_flight: int = 64,
) -> None:
    """Send each order at its offset from ``started_ns``; never more than ``max_in_flight`` open.

    The flow is read one order at a time, and an order waits for a free slot before its task exists,
    so memory stays bounded however long the flow and however slow the OMS (late orders go out as
    soon as a slot frees, in order, as they did when each task waited for its slot). A
    :class:`Broadcast` sends each order to every instance, as worker ``<worker>@<instance>``.
    """
    slots = asyncio.Semaphore(max_in_flight)

    async def send(worker: str, order: ScheduledOrder) -> None:
        try:
            if isinstance(door, Broadcast):
                await asyncio.gather(*(_place(f"{worker}@{name}", order.request, one, history)
                                       for name, one in door.doors.items()))
            else:
                await _place(worker, order.request, door, history)
        finally:
            slots.release()

    async with asyncio.TaskGroup() as group:
        for n, order in enumerate(flow):
            await sleep_until(started_ns + int(order.offset_s * 1e9))
            await slots.acquire()
            group.create_task(send(f"worker-{n % max_in_flight}", order))
