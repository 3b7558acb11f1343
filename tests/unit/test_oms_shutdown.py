"""Graceful stop: cancels bounded in time, a quiet wait, a checkpoint, one ShutdownComplete alert."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from trading_stack.checkpoints import Checkpoint, positions_from_fills
from trading_stack.clock import monotonic_ns
from trading_stack.deploy.positions import Position
from trading_stack.gateway import PlaceResult
from trading_stack.models import Order, OrderStatus, Side
from trading_stack.shutdown import drain


class Draining:
    """Cancels of the ``hanging`` orders never come back; the others are confirmed on the second try."""

    instance = "oms-blue"

    def __init__(self, orders: list[Order], hanging: set[str], save_fails: bool = False) -> None:
        self.orders = {o.order_id: o for o in orders}
        self.hanging = hanging
        self.attempts: dict[str, int] = {}
        self.save_fails = save_fails
        self.saved: list[Checkpoint] = []
        self.alerts: list[tuple[str, dict[str, Any]]] = []
        self.pending_requests = 0

    def open_orders(self) -> list[Order]:
        return [o for o in self.orders.values() if o.status.is_open]

    def order(self, order_id: str) -> Order | None:
        return self.orders.get(order_id)

    def costed_positions(self) -> dict[str, Position]:
        return {"BTC-USD": Position("BTC-USD", 3, 100.0, 0.0)}

    async def cancel_order(self, order: Order) -> PlaceResult:
        self.attempts[order.order_id] = self.attempts.get(order.order_id, 0) + 1
        if order.order_id in self.hanging:
            await asyncio.Event().wait()
        if self.attempts[order.order_id] == 1:
            return PlaceResult(504, error="venue did not answer")
        self.orders[order.order_id] = order.model_copy(update={"status": OrderStatus.CANCELED})
        return PlaceResult(200, self.orders[order.order_id])

    async def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        if self.save_fails:
            raise OSError("connection refused")
        self.saved.append(checkpoint)

    def alert(self, alert: str, detail: Mapping[str, Any]) -> None:
        self.alerts.append((alert, dict(detail)))


def resting(n: int) -> Order:
    return Order(order_id=f"blue-1-{n}", symbol="ETH-USD", side=Side.BUY, qty=1, status=OrderStatus.NEW,
                 instance="oms-blue", price=10.0)


async def test_cancels_the_venue_confirms_are_resent_and_hung_ones_are_left_for_the_successor() -> None:
    host = Draining([resting(1), resting(2), resting(3)], hanging={"blue-1-2"})
    report = await drain(host, cancel_timeout_s=0.5, fill_wait_s=0.1, clock=monotonic_ns)
    assert (sorted(report.canceled), report.cancel_failed, report.checkpoint) == (
        ["blue-1-1", "blue-1-3"], ["blue-1-2"], True)
    assert host.attempts["blue-1-1"] == 2
    checkpoint = host.saved[0]
    assert checkpoint.lots() == {"BTC-USD": 3}
    assert [o.order_id for o in checkpoint.open_orders] == ["blue-1-2"]
    assert host.alerts == [("ShutdownComplete", report.detail())]


async def test_a_database_that_cannot_take_the_checkpoint_does_not_stop_the_shutdown() -> None:
    host = Draining([], hanging=set(), save_fails=True)
    host.pending_requests = 1  # an answer the venue never sends: the wait is bounded
    report = await drain(host, cancel_timeout_s=0.2, fill_wait_s=0.05, clock=monotonic_ns)
    assert (report.canceled, report.cancel_failed, report.checkpoint) == ([], [], False)
    assert host.alerts[0][1]["checkpoint"] is False


def test_a_checkpoint_round_trips_positions_with_their_costs() -> None:
    checkpoint = Checkpoint.of("oms-blue", 5, {"BTC-USD": Position("BTC-USD", -2, 101.5, 7.0)}, [resting(1)])
    again = Checkpoint.model_validate_json(checkpoint.model_dump_json())
    assert again.book_positions() == {"BTC-USD": Position("BTC-USD", -2, 101.5, 7.0)}


def test_positions_from_stored_fills_use_average_cost_in_booking_order() -> None:
    positions = positions_from_fills([("BTC-USD", "buy", 4, 100.0), ("BTC-USD", "sell", 6, 110.0),
                                      ("ETH-USD", "sell", 1, 10.0)])
    assert positions["BTC-USD"] == Position("BTC-USD", -2, 110.0, 40.0)
    assert positions["ETH-USD"].qty == -1
