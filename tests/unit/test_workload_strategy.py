import asyncio
import itertools
import time

import pytest

from gameday.errors import ScenarioError
from gameday.history import History, OpKind, OpType
from gameday.scenario import parse_scenario
from gameday.scenario.model import Routing
from gameday.workload import (
    Broadcast,
    Burst,
    FrontDoor,
    OrderRequest,
    Placement,
    Strategy,
    drive_workload,
    strategy_flow,
    workload_flow,
)

SYMBOLS = ("BTC-USD", "ETH-USD")


def test_a_strategy_flow_is_market_orders_in_its_direction_each_with_its_own_intent_id() -> None:
    orders = list(strategy_flow(71, 10, 3, SYMBOLS, Strategy("sell", max_lots=4)))

    assert len(orders) == 30
    assert {order.request.side for order in orders} == {"sell"}
    assert {order.request.type for order in orders} == {"market"}
    assert all(1 <= order.request.qty <= 4 for order in orders)
    assert len({order.request.intent for order in orders}) == 30
    assert orders[0].request.intent == "71:intent-0"
    assert orders == list(strategy_flow(71, 10, 3, SYMBOLS, Strategy("sell", max_lots=4)))


def test_a_workload_with_a_strategy_makes_its_bursts_intents_too() -> None:
    flow = workload_flow(5, 10, 4, SYMBOLS, 0.3, [Burst(1.0, 1.0, 20, 1.0)], strategy=Strategy())
    orders = list(flow)

    assert len(orders) == len(flow) == 60
    assert all(order.request.intent is not None and order.request.side == "buy" for order in orders)
    assert len({order.request.intent for order in orders}) == 60
    assert any(order.request.intent.startswith("5:burst0:") for order in orders if order.request.intent)
    assert all(order.request.intent is None for order in workload_flow(5, 10, 4, SYMBOLS, 0.3))


def test_an_intent_is_not_sent_to_the_oms() -> None:
    request = OrderRequest("BTC-USD", "buy", 2, "market", None, intent="i-1")
    assert "intent" not in request.body()


class _Door(FrontDoor):
    def __init__(self, instance: str, status: str) -> None:
        self.instance, self.status = instance, status
        self.placed: list[OrderRequest] = []

    async def place(self, request: OrderRequest) -> Placement:
        self.placed.append(request)
        body = {"order_id": f"{self.instance}-1"} if self.status == "ok" else {"status": 503}
        return Placement(self.status, self.instance, body, [self.instance])


@pytest.mark.timeout(30)
async def test_a_broadcast_sends_every_order_to_every_instance_and_records_each_answer() -> None:
    primary, dr = _Door("oms-primary", "ok"), _Door("oms-dr", "fail")
    history = History()
    flow = list(itertools.islice(strategy_flow(3, 1000, 1, SYMBOLS, Strategy()), 5))

    await asyncio.wait_for(drive_workload(flow, Broadcast({"oms-primary": primary, "oms-dr": dr}), history,
                                          started_ns=time.monotonic_ns()), timeout=10)

    assert primary.placed == dr.placed == [order.request for order in flow]
    invokes = [op for op in history.ops if op.kind is OpKind.CLIENT and op.type is OpType.INVOKE]
    assert len(invokes) == 10
    assert {op.value["intent"] for op in invokes} == {order.request.intent for order in flow}
    answers = {(op.process.split("@")[1], op.type) for op in history.ops
               if op.kind is OpKind.CLIENT and op.type is not OpType.INVOKE}
    assert answers == {("oms-primary", OpType.OK), ("oms-dr", OpType.FAIL)}


def _scenario(workload: str) -> str:
    return (f"name: strategy\ndescription: d\nseed: 1\nstack: {{preset: active-passive}}\n"
            f"workload: {{orders_per_second: 10, symbols: [BTC-USD], duration: 5s, {workload}}}\n"
            "expect:\n  exposure.beyond_intended: {max: 0}\n")


def test_a_strategy_and_a_broadcast_load_as_typed_fields() -> None:
    scenario = parse_scenario(_scenario("routing: broadcast, strategy: {side: sell, max_lots: 3}"))

    assert scenario.workload.routing is Routing.BROADCAST
    assert scenario.workload.strategy is not None
    assert (scenario.workload.strategy.side, scenario.workload.strategy.max_lots) == ("sell", 3)


@pytest.mark.parametrize(("workload", "path", "expected"), [
    ("strategy: {side: hold}", "workload.strategy.side", "'buy' or 'sell'"),
    ("strategy: {max_lots: 0}", "workload.strategy.max_lots", "greater than or equal to 1"),
    ("strategy: {side: buy, lots: 3}", "workload.strategy.lots", "expected one of: side, max_lots"),
    ("routing: everywhere", "workload.routing", "broadcast"),
])
def test_a_bad_strategy_or_routing_names_its_path(workload: str, path: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(_scenario(workload), file="strategy.yaml")

    [problem] = raised.value.problems
    assert problem.yaml_path == path
    assert expected in problem.message
