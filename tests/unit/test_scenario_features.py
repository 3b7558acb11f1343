"""The scenario features the failover game days use: exchange faults, every toxic, actions,
bursts, routing, regions, initial roles."""

import pytest

from gameday.errors import ScenarioError
from gameday.faults.schedule import StepAction, plan
from gameday.scenario import ExchangeFault, ExchangeFaultKind, parse_scenario
from gameday.scenario.actions import RestingOrdersAction, RiskLimitAction
from gameday.scenario.faults import BandwidthFault, LimitDataFault, ResetPeerFault, SlicerFault
from gameday.scenario.model import Routing
from gameday.scenario.presets import InitialRole
from gameday.workload import Burst, workload_flow

HEAD = """\
name: features
description: d
seed: 5
stack:
  preset: active-passive
{stack}
workload:
  orders_per_second: 10
  symbols: [BTC-USD]
  duration: 20s
{workload}
{rest}
expect:
  orders.ghost: 0
"""


def _parse(stack: str = "", workload: str = "", rest: str = "") -> object:
    return parse_scenario(HEAD.format(stack=stack, workload=workload, rest=rest), file="f.yaml")


def _problem(stack: str = "", workload: str = "", rest: str = "") -> tuple[str, str]:
    with pytest.raises(ScenarioError) as caught:
        _parse(stack, workload, rest)
    (problem,) = caught.value.problems
    return problem.yaml_path, problem.message


def test_every_toxic_is_a_fault_with_its_attributes() -> None:
    scenario = _parse(rest="""timeline:
  - {at: 1s, fault: bandwidth, proxy: oms-primary->nats, rate_kb: 10, for: 2s}
  - {at: 1s, fault: reset_peer, proxy: oms-primary->nats, timeout_ms: 5, for: 2s}
  - {at: 1s, fault: slicer, proxy: oms-primary->nats, average_size: 8, delay_us: 10, for: 2s}
  - {at: 1s, fault: limit_data, proxy: oms-primary->nats, bytes: 100, stream: upstream, for: 2s}
""")
    faults = scenario.timeline  # type: ignore[attr-defined]
    assert [type(f) for f in faults] == [BandwidthFault, ResetPeerFault, SlicerFault, LimitDataFault]
    assert [f.attributes() for f in faults] == [
        {"rate": 10}, {"timeout": 5}, {"average_size": 8, "size_variation": 0, "delay": 10}, {"bytes": 100}]


def test_an_exchange_fault_without_for_is_healed_at_the_end_only() -> None:
    scenario = _parse(rest="""timeline:
  - {at: 1s, fault: exchange, kind: reconnect_cooldown, params: {unclean_s: 10}}
  - {at: 2s, fault: exchange, kind: halt, params: {symbols: [BTC-USD]}, for: 3s}
""")
    cooldown, halt = scenario.timeline  # type: ignore[attr-defined]
    assert isinstance(cooldown, ExchangeFault)
    assert cooldown.kind is ExchangeFaultKind.RECONNECT_COOLDOWN
    steps = plan(scenario.timeline)  # type: ignore[attr-defined]
    assert [(s.fault_id, s.action, s.at_ns) for s in steps] == [
        ("f1-exchange", StepAction.START, 1_000_000_000),
        ("f2-exchange", StepAction.START, 2_000_000_000),
        ("f2-exchange", StepAction.HEAL, 5_000_000_000),
    ]
    assert halt.params == {"symbols": ["BTC-USD"]}


def test_an_unknown_exchange_fault_kind_is_located() -> None:
    path, message = _problem(rest="timeline:\n  - {at: 1s, fault: exchange, kind: meltdown}\n")
    assert path == "timeline[0].kind"
    assert "reconnect_cooldown" in message


def test_actions_are_typed_and_must_start_within_the_workload() -> None:
    scenario = _parse(rest="""actions:
  - {at: 2s, action: resting-orders, symbol: ETH-USD, count: 3}
  - {at: 3s, action: risk-limit, symbol: BTC-USD, max_order_qty: 5}
""")
    resting, limit = scenario.actions  # type: ignore[attr-defined]
    assert isinstance(resting, RestingOrdersAction)
    assert resting.count == 3
    assert isinstance(limit, RiskLimitAction)
    assert limit.max_order_qty == 5

    late = "actions:\n  - {at: 25s, action: risk-limit, symbol: X, max_order_qty: 1}\n"
    path, message = _problem(rest=late)
    assert path == "actions[0].at"
    assert "before the end of the workload" in message


def test_regions_need_a_pair_with_a_known_round_trip() -> None:
    scenario = _parse(stack="  regions: {primary: us-east-1, dr: ap-southeast-1}")
    assert scenario.stack.regions.rtt_ms == 240  # type: ignore[attr-defined]

    path, message = _problem(stack="  regions: {primary: us-west-2, dr: eu-west-1}")
    assert path == "stack.regions"
    assert "no baseline round trip" in message


def test_initial_roles_name_oms_instances() -> None:
    scenario = _parse(stack="  initial_roles: {oms-dr: active}")
    assert scenario.stack.initial_roles == {"oms-dr": InitialRole.ACTIVE}  # type: ignore[attr-defined]

    path, message = _problem(stack="  initial_roles: {exchange: active}")
    assert path == "stack.initial_roles"
    assert "oms-primary" in message


def test_bursts_merge_into_the_flow_in_time_order_and_are_seeded() -> None:
    scenario = _parse(workload="""  routing: spread
  bursts:
    - {at: 5s, for: 1s, orders_per_second: 100}
""")
    workload = scenario.workload  # type: ignore[attr-defined]
    assert workload.routing is Routing.SPREAD
    bursts = [Burst(b.at.seconds, b.duration.seconds, b.orders_per_second, b.market_order_ratio)
              for b in workload.bursts]

    flow = workload_flow(5, 10, 20, ["BTC-USD"], 0.3, bursts)

    offsets = [order.offset_s for order in flow]
    assert offsets == sorted(offsets)
    assert len(flow) == 200 + 100
    in_burst = [order for order in flow if 5 <= order.offset_s < 6]
    assert sum(order.request.type == "market" for order in in_burst) >= 100
    assert list(flow) == list(workload_flow(5, 10, 20, ["BTC-USD"], 0.3, bursts))
    assert list(flow) != list(workload_flow(6, 10, 20, ["BTC-USD"], 0.3, bursts))


def test_exchange_fault_parameters_the_venue_would_refuse_are_located_at_load() -> None:
    path, message = _problem(rest="timeline:\n  - {at: 1s, fault: exchange, kind: reconnect_cooldown, "
                                  "params: {unclean_s: -3}}\n")
    assert path == "timeline[0].params"
    assert "the venue would refuse reconnect_cooldown" in message
    assert "unclean_s" in message
