"""``stack.venue``'s session setup and published rate limit: in the scenario, then in the reference stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.errors import ScenarioError
from gameday.scenario import parse_scenario
from gameday.scenario.deploy_spec import DeploymentSpec
from gameday.stack.rundir import RunDir
from gameday.stack.settings import StackSettings
from mock_exchange.config import VenueConfig
from reference_target.venue_settings import (
    CROSS_REGION_SESSION_SETUP_S,
    oms_venue_fields,
    session_setup_s,
    venue_fields,
)


def _text(stack: str) -> str:
    return ("name: venue-settings\ndescription: d\nseed: 1\n"
            f"stack: {stack}\n"
            "workload: {orders_per_second: 10, symbols: [BTC-USD], duration: 20s}\n"
            "expect:\n  orders.ghost: 0\n")


def _settings(tmp_path: Path, stack: str) -> StackSettings:
    scenario = parse_scenario(_text(stack), file="s.yaml")
    regions = scenario.stack.regions
    return StackSettings(run_dir=RunDir(tmp_path, "venue-settings"), seed=1,
                         deployment=DeploymentSpec.of(scenario.stack),
                         cross_region_rtt_ms=regions.rtt_ms if regions else 0)


def test_a_single_region_stack_sets_no_session_up_slowly_and_publishes_no_limit(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "{preset: active-passive}")
    assert session_setup_s(settings) == 0.0
    assert oms_venue_fields(settings) == {}
    assert venue_fields(settings)["session_setup_s"] == 0.0


def test_across_regions_the_setup_is_the_seed_s_plus_the_handshakes_wan_round_trips(tmp_path: Path) -> None:
    regions = "{primary: us-east-1, dr: ap-southeast-1}"
    settings = _settings(tmp_path, f"{{preset: active-passive, regions: {regions}}}")
    assert session_setup_s(settings) == pytest.approx(CROSS_REGION_SESSION_SETUP_S + 3 * 0.240)
    assert oms_venue_fields(settings)["fix_logon_timeout_s"] > session_setup_s(settings)


def test_the_scenario_s_venue_settings_reach_the_venue_and_every_oms(tmp_path: Path) -> None:
    stack = ("{preset: active-passive, regions: {primary: us-east-1, dr: us-west-2}, "
             "venue: {session_setup: 4.5s, order_rate_limit: {max_orders: 60, window_s: 1, ban_s: 5}}}")
    settings = _settings(tmp_path, stack)
    venue = VenueConfig(fix_port=0, admin_port=0, ledger_path=tmp_path / "l", **venue_fields(settings))
    assert venue.session_setup_s == 4.5
    assert venue.logon_timeout_s > 4.5
    assert venue.order_rate_limit is not None
    assert venue.order_rate_limit.ban_s == 5
    assert oms_venue_fields(settings) == {"fix_logon_timeout_s": 6.5,
                                          "venue_rate_limit": {"max_orders": 60, "window_s": 1.0}}


@pytest.mark.parametrize(("venue", "path", "expected"), [
    ("{session_setup: 61s}", "stack.venue.session_setup", "at most 60s"),
    ("{session_setup: soon}", "stack.venue.session_setup", "expected a duration"),
    ("{order_rate_limit: {max_orders: 0, window_s: 1}}", "stack.venue.order_rate_limit.max_orders",
     "greater than 0"),
    ("{order_rate_limit: {max_orders: 5}}", "stack.venue.order_rate_limit.window_s",
     "required key is missing"),
])
def test_a_bad_venue_setting_is_one_problem_at_its_path(venue: str, path: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(_text(f"{{preset: active-passive, venue: {venue}}}"), file="s.yaml")
    [problem] = raised.value.problems
    assert problem.yaml_path == path
    assert expected in problem.message
