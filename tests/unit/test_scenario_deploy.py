"""The scenario features the deployment game days use: the blue-green preset, its stack settings,
the deploy action kinds, front-door routing, and each mistake located in the file."""

from datetime import datetime, time

import pytest

from gameday.errors import ScenarioError
from gameday.scenario import ExchangeFaultKind, Scenario, parse_scenario
from gameday.scenario.actions import DeployAction, KillSwitchAction, PositionAction, RestartAction, Side
from gameday.scenario.model import Routing
from trading_stack.deploy.versions import OmsVersion

SCENARIO = """\
name: deploy-features
description: d
seed: 5
stack:
  preset: {preset}
{stack}
workload:
  orders_per_second: 10
  symbols: [BTC-USD]
  duration: 20s
  routing: front-door
{rest}
expect:
  deploy.cutover_done: 1
"""


def _parse(stack: str = "", rest: str = "", preset: str = "blue-green") -> Scenario:
    return parse_scenario(SCENARIO.format(preset=preset, stack=stack, rest=rest), file="f.yaml")


Problem = tuple[int | None, str, str]


def _problems(stack: str = "", rest: str = "", preset: str = "blue-green") -> list[Problem]:
    with pytest.raises(ScenarioError) as caught:
        _parse(stack, rest, preset)
    return [(problem.line, problem.yaml_path, problem.message) for problem in caught.value.problems]


def test_a_deployment_stack_with_every_setting() -> None:
    scenario = _parse(stack="""\
  clock: {start: "2026-11-20T10:59:30", tz: America/New_York, rate: 2}
  schedule: {start: "16:00", end: "20:00", tz: America/New_York, max_volume: 0}
  deploy: {verification_window_s: 6, hold_s: 2, reject_limit: 3}
  breaker: {max_drawdown: 50000}
  venue: {markets: [XNAS, ARCX], max_fill_lots: 2}
  oms: {version: 1.4.2, shutdown_cancel_timeout_s: 2, shutdown_fill_wait_s: 1}""", rest="""\
actions:
  - {at: 2s, action: deploy, version: 1.4.3}
  - {at: 3s, action: position, symbol: BTC-USD, side: buy, qty: 40}
  - {at: 4s, action: kill-switch, target: oms-blue, operator: alice}
  - {at: 5s, action: restart, target: oms-blue, grace: 15s}
timeline:
  - {at: 1s, fault: latency, proxy: oms-green->nats, latency_ms: 6000, for: 10s}
  - {at: 5s, fault: exchange, kind: price_path, for: 10s,
     params: {symbol: BTC-USD, move_pct: -4, over_s: 3}}""")

    stack = scenario.stack
    assert stack.clock is not None
    assert (stack.clock.start, stack.clock.rate) == (datetime(2026, 11, 20, 10, 59, 30), 2.0)
    assert stack.schedule is not None
    assert (stack.schedule.start, stack.schedule.end) == (time(16), time(20))
    assert stack.deploy is not None
    assert (stack.deploy.verification_window_s, stack.deploy.reject_limit) == (6.0, 3)
    assert stack.breaker is not None
    assert stack.breaker.max_drawdown == 50000
    assert stack.venue is not None
    assert stack.venue.markets == ("XNAS", "ARCX")
    assert stack.oms is not None
    assert stack.oms.shutdown_cancel_timeout_s == 2
    deploy, position, kill, restart = scenario.actions
    assert isinstance(deploy, DeployAction)
    assert deploy.version == OmsVersion.V1_4_3
    assert isinstance(position, PositionAction)
    assert position.side is Side.BUY
    assert isinstance(kill, KillSwitchAction)
    assert isinstance(restart, RestartAction)
    assert (restart.signal.value, restart.grace.seconds) == ("SIGTERM", 15.0)
    assert scenario.timeline[1].kind is ExchangeFaultKind.PRICE_PATH  # type: ignore[union-attr]
    assert scenario.workload.routing is Routing.FRONT_DOOR


def test_deploy_settings_need_a_preset_with_a_deployer() -> None:
    problems = _problems(preset="active-passive", stack="  deploy: {hold_s: 1}\n  breaker: {max_loss: 10}")

    assert [(line, path) for line, path, _ in problems] == [(6, "stack.deploy"), (7, "stack.breaker")]
    assert "only a preset with a deployer (blue-green, active-passive-deploy) wires deploy" in problems[0][2]


def test_deploy_actions_need_a_deployer_and_name_oms_instances() -> None:
    problems = _problems(preset="active-passive", rest="""\
actions:
  - {at: 2s, action: rollback, operator: alice}
  - {at: 3s, action: kill-switch, target: oms-blue, operator: alice}
  - {at: 3s, action: position, symbol: ETH-USD, side: sell, qty: 1}""")

    paths = [path for _, path, _ in problems]
    assert paths == ["actions[0].action", "actions[1].target", "actions[2].symbol"]
    assert "rollback needs a stack with a deployer" in problems[0][2]
    assert "one of: oms-primary, oms-dr, got 'oms-blue'" in problems[1][2]
    assert "one of: BTC-USD, got 'ETH-USD'" in problems[2][2]


def test_an_unknown_version_lists_the_builds() -> None:
    [(line, path, message)] = _problems(rest="actions:\n  - {at: 2s, action: deploy, version: 1.4.9}")

    assert (line, path) == (13, "actions[0].version")
    assert "expected a build of target 'reference' (1.4.2, 1.4.3, 1.4.3-cost)" in message
    assert "got '1.4.9'" in message


def test_an_unquoted_wall_time_is_refused_not_read_as_minutes() -> None:
    [(_, path, message)] = _problems(stack="  clock: {start: 2026-11-20T10:59:30}\n"
                                           "  schedule: {start: 16:00, end: \"20:00\"}")

    assert path == "stack.schedule"
    assert "quoted wall time such as '16:00'" in message


def test_a_schedule_needs_the_market_clock() -> None:
    [(_, path, message)] = _problems(stack="  schedule: {start: \"16:00\", end: \"20:00\"}")

    assert path == "stack.schedule"
    assert "set stack.clock" in message


def test_the_stack_decides_blue_green_and_defects() -> None:
    [(_, path, message)] = _problems(stack="  deploy: {green: oms-dr, defects: [canary-deploy]}")

    assert path == "stack.deploy"
    assert message.startswith("green, defects are set by the stack")


@pytest.mark.parametrize(("stack", "path", "expected"), [
    ("  deploy: {verification_window_s: 10, verification_deadline_s: 5}", "stack.deploy",
     "verification_deadline_s >= verification_window_s"),
    ("  clock: {start: \"2026-11-20T10:59:30\", tz: Mars/Olympus}", "stack.clock.tz", "IANA time zone"),
    ("  clock: {start: \"2026-11-20T10:59:30+00:00\"}", "stack.clock.start", "without an offset"),
    ("  venue: {markets: []}", "stack.venue.markets", "at least 1"),
    ("  deploy: {triggers: {pnl: {max_loss: -5}}}", "stack.deploy.triggers.pnl.max_loss", "greater than 0"),
    ("  deploy: {triggers: {slippage: {window_s: 3}}}", "stack.deploy.triggers.slippage.max_bps", "missing"),
    ("  deploy: {triggers: {latency: {p99_ms: 250}}}", "stack.deploy.triggers.latency",
     "unknown key (the target's schema"),
    ("  initial_roles: {oms-primary: active}", "stack.initial_roles", "oms-blue, oms-green"),
])
def test_bad_stack_settings_are_located(stack: str, path: str, expected: str) -> None:
    [(_, where, message)] = _problems(stack=stack)

    assert where == path
    assert expected in message


def test_faults_name_the_blue_green_hops() -> None:
    [(_, path, message)] = _problems(rest="""timeline:
  - {at: 1s, fault: partition, proxy: oms-primary->exchange, for: 2s}""")

    assert path == "timeline[0].proxy"
    assert "oms-green->exchange" in message


def test_front_door_routing_needs_a_front_door() -> None:
    [(line, path, message)] = _problems(preset="active-passive")

    assert (line, path) == (11, "workload.routing")
    assert "preset active-passive has no front door" in message
