"""The OMS side of trade capture: the gateway's AD/H requests and their collectors, the recovery of
executions the book never heard of (counted once against mass-status positions), and the watch of
adopted orders, which reads what changed and never the whole day (no AF)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import simplefix

from trading_stack import fix_codec
from trading_stack.book import Book
from trading_stack.config import OmsConfig
from trading_stack.deploy.positions import Position
from trading_stack.execution_recovery import FIRST_WINDOW_MARGIN_S, ExecutionRecovery
from trading_stack.fix_client import FixSession
from trading_stack.gateway import OrderGateway
from trading_stack.models import ExecType, ExecutionReport, Fill, Order, OrderStatus, Side
from trading_stack.risk import RiskLimits
from trading_stack.trade_capture import TradeCaptureRefused
from trading_stack.venue_sync import EXECUTIONS_RECOVERED, STATUS_REQUESTS_PER_LOOK, SyncSource, VenueSync

NOW = datetime(2026, 3, 4, 12, 0, 0, tzinfo=UTC)
MONO_NOW = 500 * 1_000_000_000


def stamp(instant: datetime) -> str:
    return fix_codec.format_utc(instant)


class Sink:
    def __init__(self) -> None:
        self.fills: list[Fill] = []
        self.positions: list[dict[str, int]] = []
        self.stored_again: list[str] = []
        self.orders: list[Order] = []

    def order_changed(self, order: Order) -> None:
        self.orders.append(order)

    def stored(self, fill: Fill) -> None:
        self.stored_again.append(fill.exec_id)

    def filled(self, fill: Fill, positions: dict[str, int], fill_count: int) -> None:
        self.fills.append(fill)
        self.positions.append(dict(positions))


class ScriptedVenue:
    """A logged-on session stand-in: keeps what the gateway sends, answers H and AD from a script."""

    def __init__(self) -> None:
        self.gateway: OrderGateway | None = None
        self.sent: list[tuple[str, dict[int, str]]] = []
        self.trades: list[dict[int, Any]] = []  # the AE bodies of the executions the venue has
        self.statuses: dict[str, tuple[str, int]] = {}  # ClOrdID -> (OrdStatus, CumQty)
        self.answers = True
        self.logged_on = True

    async def wait_logged_on(self) -> None:
        return None

    def sent_types(self) -> list[str]:
        return [msg_type for msg_type, _fields in self.sent]

    def send_app(self, msg_type: str, body: Sequence[tuple[int, str]]) -> None:
        fields = dict(body)
        self.sent.append((msg_type, fields))
        if not self.answers:
            return
        if msg_type == "H":
            status, cum = self.statuses[fields[11]]
            self._deliver("8", {37: fields.get(37, "NONE"), 11: fields[11], 17: "ST", 150: "I", 39: status,
                                55: fields[55], 54: fields[54], 14: cum, 790: fields[790]})
        elif msg_type == "AD":
            since = fix_codec.parse_utc(fields[60])
            assert since is not None
            trades = [t for t in self.trades if fix_codec.parse_utc(t[60]) >= since]  # type: ignore[operator]
            self._deliver("AQ", {568: fields[568], 569: 0, 748: len(trades), 749: 0, 750: 0})
            for number, trade in enumerate(trades, 1):
                self._deliver("AE", {**trade, 568: fields[568], 748: len(trades),
                                     912: "Y" if number == len(trades) else "N"})

    def trade(self, exec_id: str, order_id: str, cl_ord_id: str, qty: int, at: datetime) -> None:
        self.trades.append({571: f"TR-{exec_id}", 17: exec_id, 570: "N", 55: "BTC-USD", 38: 10, 32: qty,
                            31: 100, 75: at.strftime("%Y%m%d"), 60: stamp(at), 552: 1, 54: 1, 37: order_id,
                            11: cl_ord_id, 453: 1, 448: "oms-primary", 447: "D", 452: 11})

    def _deliver(self, msg_type: str, fields: Mapping[int, Any]) -> None:
        message = simplefix.FixMessage()
        message.append_pair(35, msg_type)
        for tag, value in fields.items():
            message.append_pair(tag, value)
        assert self.gateway is not None
        asyncio.get_running_loop().call_soon(self.gateway.on_app, message)


def config(**extra: Any) -> OmsConfig:
    return OmsConfig(instance_id="oms-dr", initial_role="standby", http_port=0, admin_token="t", fix_port=1,
                     fix_sender_comp_id="OMS-DR", nats_url="nats://127.0.0.1:1",
                     database_dsn="postgresql://127.0.0.1:1/oms", order_ack_timeout_s=0.5, **extra)


class Bed:
    def __init__(self, **extra: Any) -> None:
        self.book = Book()
        self.sink = Sink()
        self.venue = ScriptedVenue()
        self.alerts: list[tuple[str, dict[str, Any]]] = []
        self.gateway = OrderGateway("oms-dr", 1, self.book, self.sink, ack_timeout_s=0.5,
                                    clock=lambda: MONO_NOW)
        self.gateway.attach(cast(FixSession, self.venue))
        self.venue.gateway = self.gateway
        self.sync = VenueSync(config(**extra), self.book, self.gateway, RiskLimits(),
                              lambda alert, detail: self.alerts.append((alert, dict(detail))),
                              lambda coro, name: asyncio.ensure_future(coro),
                              lambda: cast(FixSession, self.venue), self.recovery())

    def adopt(self, cl_ord_id: str, exchange_id: str, instance: str = "oms-primary") -> Order:
        order = Order(order_id=cl_ord_id, exchange_order_id=exchange_id, symbol="BTC-USD", side=Side.BUY,
                      qty=10, status=OrderStatus.NEW, instance=instance, price=100.0)
        self.book.add_order(order)
        return order

    def recovery(self) -> ExecutionRecovery:
        return ExecutionRecovery(self.book, self.gateway, "oms-dr", clock=lambda: MONO_NOW, wall=lambda: NOW)


def mirrored(exec_id: str, order: Order, qty: int, cum: int, age_s: float) -> Fill:
    return Fill(exec_id=exec_id, order_id=order.order_id, exchange_order_id=order.exchange_order_id,
                symbol=order.symbol, side=order.side, qty=qty, price=100.0,
                t_ns=MONO_NOW - int(age_s * 1e9), instance=order.instance, cum_qty=cum, order_qty=order.qty)


async def test_the_adopted_orders_watch_asks_their_status_and_new_executions_never_a_mass_status() -> None:
    bed = Bed()
    first, second = bed.adopt("p-1-1", "O1"), bed.adopt("p-1-2", "O2")
    bed.adopt("oms-dr-1-1", "O3", instance="oms-dr")  # its own: the venue reports it here anyway
    bed.venue.statuses = {"p-1-1": ("1", 2), "p-1-2": ("0", 0)}
    bed.venue.trade("E9", "O1", "p-1-1", 2, NOW - timedelta(seconds=1))
    await bed.sync.follow_adopted()
    assert bed.venue.sent_types() == ["H", "H", "AD"]
    assert [fields[11] for msg_type, fields in bed.venue.sent if msg_type == "H"] == ["p-1-1", "p-1-2"]
    assert [f.exec_id for f in bed.sink.fills] == ["E9"]
    assert bed.book.positions == {"BTC-USD": 2}
    assert bed.book.get(first.order_id).status is OrderStatus.PARTIALLY_FILLED  # type: ignore[union-attr]
    assert bed.book.get(second.order_id).status is OrderStatus.NEW  # type: ignore[union-attr]
    assert [(alert, detail["recovered"]) for alert, detail in bed.alerts] == [(EXECUTIONS_RECOVERED, 1)]

    bed.venue.statuses.update({"p-1-1": ("4", 2), "p-1-2": ("2", 10)})
    bed.venue.trade("E12", "O2", "p-1-2", 10, NOW)
    await bed.sync.follow_adopted()
    assert bed.venue.sent_types() == ["H", "H", "AD", "H", "H", "AD"]
    assert "AF" not in bed.venue.sent_types()
    second_window = bed.venue.sent[-1][1][60]
    assert second_window == stamp(NOW - timedelta(seconds=2))  # the latest seen (E9) minus the margin
    assert [f.exec_id for f in bed.sink.fills] == ["E9", "E12"]  # E9 again in the overlap: not rebooked
    assert bed.book.positions == {"BTC-USD": 12}
    assert not bed.sync.adopted_open()


async def test_an_execution_a_mass_status_counted_is_booked_without_counting_it_twice() -> None:
    bed = Bed()
    order = bed.adopt("p-1-1", "O1")
    bed.book.apply_fill(mirrored("E1", order, qty=2, cum=2, age_s=10))  # the mirror's last fill
    venue_truth = ExecutionReport(
        exec_type=ExecType.ORDER_STATUS, ord_status=OrderStatus.PARTIALLY_FILLED, cl_ord_id="p-1-1",
        orig_cl_ord_id=None, order_id="O1", exec_id="MS-1", symbol="BTC-USD", side=Side.BUY, qty=10,
        price=100.0, cum_qty=3, leaves_qty=7, last_qty=0, last_px=None, text=None, owner_sub_id="oms-primary")
    bed.book.replace_costed_positions({"BTC-USD": Position("BTC-USD", 3, 100.0)})  # what reconcile set
    recovery = bed.recovery()
    recovery.arm([venue_truth])
    bed.venue.trade("E2", "O1", "p-1-1", 1, NOW - timedelta(seconds=4))  # before the mass status: counted
    bed.venue.trade("E3", "O1", "p-1-1", 2, NOW - timedelta(seconds=1))  # after it, reported elsewhere
    recovered = await recovery.recover(timeout_s=2.0)
    assert recovered.since == NOW - timedelta(seconds=10 + FIRST_WINDOW_MARGIN_S)
    assert [(f.exec_id, f.cum_qty, f.instance) for f in recovered.booked] == [
        ("E2", 3, "oms-primary"), ("E3", 5, "oms-primary")]
    assert recovered.counted == 1
    assert bed.book.positions == {"BTC-USD": 5}  # the venue's CumQty: E1 + E2 + E3
    assert [f.exec_id for f in bed.sink.fills] == ["E2", "E3"]  # both on their way to the database
    assert bed.sink.positions == [{"BTC-USD": 3}, {"BTC-USD": 5}]


async def test_a_promotion_writes_again_the_fills_it_knew_only_from_the_stream() -> None:
    # The primary streamed E1 and died with it still queued for its database: the DR knows E1 from
    # its mirror, so its promotion books nothing new, yet E1 must reach the database.
    bed = Bed()
    order = bed.adopt("p-1-1", "O1")
    bed.book.apply_fill(mirrored("E1", order, qty=2, cum=2, age_s=1))
    bed.venue.trade("E1", "O1", "p-1-1", 2, NOW - timedelta(seconds=1))
    await bed.sync.recover_executions(SyncSource.PROMOTION)
    assert bed.sink.fills == []  # not booked twice, not streamed twice
    assert bed.sink.stored_again == ["E1"]

    watched = Bed()  # the adopted-orders watch's windows do not rewrite what they overlap
    known = watched.adopt("p-1-1", "O1")
    watched.book.apply_fill(mirrored("E1", known, qty=2, cum=2, age_s=1))
    watched.venue.trade("E1", "O1", "p-1-1", 2, NOW - timedelta(seconds=1))
    await watched.sync.follow_adopted()
    assert watched.sink.stored_again == []


async def test_the_first_window_ignores_fills_the_new_session_booked_itself() -> None:
    bed = Bed()
    order = bed.adopt("p-1-1", "O1")
    bed.book.apply_fill(mirrored("E1", order, qty=1, cum=1, age_s=30))
    live = fix_codec.parse_execution_report(_report({
        37: "O1", 11: "p-1-1", 17: "E5", 150: "F", 39: "1", 55: "BTC-USD", 54: 1, 38: 10, 14: 2, 151: 8,
        32: 1, 31: 100}))
    bed.gateway.on_execution_report(live)  # routed here after the logon: not what the mirror knew
    assert bed.gateway.booked_before_live == 1
    assert bed.recovery().next_since() == NOW - timedelta(seconds=30 + FIRST_WINDOW_MARGIN_S)
    empty = Bed()
    assert empty.recovery().next_since() == NOW.replace(hour=0)  # nothing known: the start of the UTC day


async def test_a_refused_or_unanswered_request_raises_and_leaves_no_collector() -> None:
    bed = Bed()
    bed.venue.answers = False
    with pytest.raises(TimeoutError):
        await bed.gateway.executions_since(NOW, timeout_s=5.0)  # no AQ within the ack timeout (0.5 s)
    task = asyncio.ensure_future(bed.gateway.executions_since(NOW, timeout_s=5.0))
    await asyncio.sleep(0)
    request_id = bed.venue.sent[-1][1][568]
    bed.gateway.on_app(_message("AQ", {568: request_id, 569: 0, 749: 8, 750: 2, 58: "not supported"}))
    with pytest.raises(TradeCaptureRefused, match="not supported"):
        await task
    task = asyncio.ensure_future(bed.gateway.executions_since(NOW, timeout_s=5.0))
    await asyncio.sleep(0)
    bed.gateway.on_app(_message("j", {45: 3, 372: "AD", 380: 3, 58: "Unsupported Message Type"}))
    with pytest.raises(TradeCaptureRefused, match="Unsupported"):
        await task
    assert bed.gateway._trade_captures == {}


def _message(msg_type: str, fields: Mapping[int, Any]) -> simplefix.FixMessage:
    message = simplefix.FixMessage()
    message.append_pair(35, msg_type)
    for tag, value in fields.items():
        message.append_pair(tag, value)
    return message


def _report(fields: Mapping[int, Any]) -> simplefix.FixMessage:
    return _message("8", fields)


async def test_a_look_asks_the_status_of_a_bounded_number_of_adopted_orders_in_turn() -> None:
    bed = Bed()
    adopted = [bed.adopt(f"p-1-{n:03d}", f"O{n}") for n in range(STATUS_REQUESTS_PER_LOOK + 8)]
    bed.venue.statuses = {order.order_id: ("0", 0) for order in adopted}
    asked: list[str] = []
    for _ in range(2):
        await bed.sync.follow_adopted()
        asked += [fields[11] for msg_type, fields in bed.venue.sent if msg_type == "H"][len(asked):]
    assert len(asked) == 2 * STATUS_REQUESTS_PER_LOOK
    assert asked[:STATUS_REQUESTS_PER_LOOK] == [o.order_id for o in adopted[:STATUS_REQUESTS_PER_LOOK]]
    assert set(asked) == {o.order_id for o in adopted}  # the second look went on, then wrapped round
