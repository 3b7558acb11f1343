"""The breaker as the OMS carries it out: marks from its own fills, halt, cancel-all, flatten, Flat."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from typing import Any

import pytest

from trading_stack.breaker_runtime import BreakerRuntime
from trading_stack.deploy.breaker import BreakerConfig
from trading_stack.deploy.positions import Position, apply_fill
from trading_stack.gateway import PlaceResult
from trading_stack.models import Fill, NewOrderRequest, Order, OrderStatus, OrdType, Side


class FakeOms:
    """Market orders fill at once at ``price``; cancels succeed unless ``hang_cancels``."""

    def __init__(self) -> None:
        self.positions: dict[str, Position] = {}
        self.orders: dict[str, Order] = {}
        self.alerts: list[tuple[str, dict[str, Any]]] = []
        self.pnls: list[tuple[float, float]] = []
        self.sent: list[tuple[str, Side, int]] = []
        self.price = 100.0
        self.ids = itertools.count(1)
        self.tasks: list[asyncio.Task[Any]] = []
        self.now = 0

    def clock(self) -> int:
        return self.now

    def spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.tasks.append(task)
        return task

    def book(self, symbol: str, signed: int, price: float) -> Fill:
        self.positions[symbol] = apply_fill(self.positions.get(symbol, Position(symbol)), signed, price)
        side = Side.BUY if signed > 0 else Side.SELL
        return Fill(
            exec_id=f"E{next(self.ids)}",
            order_id="o",
            exchange_order_id=None,
            symbol=symbol,
            side=side,
            qty=abs(signed),
            price=price,
            t_ns=self.now,
            instance="a",
        )

    def rest(self, symbol: str) -> Order:
        order = Order(
            order_id=f"r{next(self.ids)}",
            symbol=symbol,
            side=Side.BUY,
            qty=1,
            status=OrderStatus.NEW,
            instance="a",
            price=1.0,
        )
        self.orders[order.order_id] = order
        return order

    # BreakerHost
    def open_orders(self) -> list[Order]:
        return [o for o in self.orders.values() if o.status.is_open]

    def costed_positions(self) -> dict[str, Position]:
        return dict(self.positions)

    def order(self, order_id: str) -> Order | None:
        return self.orders.get(order_id)

    async def cancel_order(self, order: Order) -> PlaceResult:
        canceled = order.model_copy(update={"status": OrderStatus.CANCELED})
        self.orders[order.order_id] = canceled
        return PlaceResult(200, canceled)

    async def send_market(self, symbol: str, side: Side, qty: int) -> PlaceResult:
        self.sent.append((symbol, side, qty))
        self.book(symbol, side.sign * qty, self.price)
        order = Order(
            order_id=f"m{next(self.ids)}",
            symbol=symbol,
            side=side,
            qty=qty,
            cum_qty=qty,
            status=OrderStatus.FILLED,
            instance="a",
            ord_type=OrdType.MARKET,
        )
        self.orders[order.order_id] = order
        return PlaceResult(201, order)

    def alert(self, alert: str, detail: Mapping[str, Any]) -> None:
        self.alerts.append((alert, dict(detail)))

    def publish_pnl(self, pnl: float, peak: float) -> None:
        self.pnls.append((pnl, peak))


def runtime(oms: FakeOms, config: BreakerConfig | None) -> BreakerRuntime:
    return BreakerRuntime(config, oms, oms.clock, oms.spawn)


def buy(symbol: str = "BTC-USD", qty: int = 1) -> NewOrderRequest:
    return NewOrderRequest(symbol=symbol, side=Side.BUY, qty=qty, type=OrdType.MARKET)


async def test_a_drawdown_halts_cancels_and_flattens_then_says_flat() -> None:
    oms = FakeOms()
    breaker = runtime(oms, BreakerConfig(max_drawdown=300))
    resting = oms.rest("ETH-USD")
    breaker.on_fill(oms.book("BTC-USD", 40, 100.0))
    oms.now = 50_000_000
    breaker.on_fill(oms.book("BTC-USD", 1, 93.0))  # 41 lots marked at 93: -287
    assert breaker.trip is None
    assert breaker.refusal(buy(), 41) is None
    oms.now = 60_000_000
    breaker.on_fill(oms.book("BTC-USD", 1, 92.0))  # 42 lots marked at 92: -328
    assert breaker.trip is not None
    assert breaker.trip.t_ns == 60_000_000
    refused = breaker.refusal(buy(), 42)
    assert refused is not None
    assert (refused.status, refused.body) == (503, {"error": "halted", "reason": "drawdown-limit"})
    await asyncio.gather(*oms.tasks)
    assert oms.orders[resting.order_id].status is OrderStatus.CANCELED
    assert oms.sent == [("BTC-USD", Side.SELL, 42)]
    assert [name for name, _ in oms.alerts] == ["BreakerTripped", "Flat"]
    assert oms.alerts[0][1]["reason"] == "drawdown-limit"
    assert not breaker.flattening
    # once flat, nothing adds exposure: a reducing order has nothing left to reduce
    assert breaker.refusal(buy(), 0) is not None


async def test_pnl_is_published_at_most_every_100ms_and_always_at_a_trip() -> None:
    oms = FakeOms()
    breaker = runtime(oms, BreakerConfig(max_loss=100))
    for t_ms in (0, 40, 99, 100, 150):
        oms.now = t_ms * 1_000_000
        breaker.on_fill(oms.book("BTC-USD", 1, 100.0))
    assert len(oms.pnls) == 2
    oms.now = 160_000_000
    breaker.on_fill(oms.book("BTC-USD", 5, 1.0))  # a crash in the mark trips it
    assert len(oms.pnls) == 3
    assert breaker.trip is not None
    await asyncio.gather(*oms.tasks)


async def test_breaker_disabled_never_trips_on_a_drawdown_but_the_kill_switch_still_works() -> None:
    oms = FakeOms()
    breaker = runtime(oms, BreakerConfig(max_drawdown=10, defects=("breaker-disabled",)))  # type: ignore[arg-type,unused-ignore]
    breaker.on_fill(oms.book("BTC-USD", 10, 100.0))
    breaker.on_fill(oms.book("BTC-USD", 1, 50.0))
    assert breaker.trip is None
    killed = await breaker.kill("alice")
    assert (killed.status, killed.body["trip"]["operator"]) == (200, "alice")
    assert (await breaker.kill("bob")).status == 409
    await asyncio.gather(*oms.tasks)
    assert oms.sent == [("BTC-USD", Side.SELL, 11)]


@pytest.mark.parametrize("config", [None, BreakerConfig(max_loss=5)])
async def test_rearm_stops_the_flattening_and_admits_entries_again(config: BreakerConfig | None) -> None:
    oms = FakeOms()
    breaker = runtime(oms, config)
    assert (await breaker.rearm()).status == 409
    oms.price = 0.5
    hold = asyncio.Event()

    async def never_fills(symbol: str, side: Side, qty: int) -> PlaceResult:
        await hold.wait()
        return PlaceResult(503, error="not active")

    oms.send_market = never_fills  # type: ignore[method-assign]
    oms.book("BTC-USD", 3, 100.0)
    assert (await breaker.kill("alice")).status == 200
    await asyncio.sleep(0)
    assert breaker.flattening
    assert (await breaker.rearm()).status == 200
    assert not breaker.flattening
    assert breaker.refusal(buy(), 3) is None
