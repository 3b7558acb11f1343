"""The ``active-passive-deploy`` preset: the failover stack unchanged, plus green, the front door and the
deployer; what it lets a scenario restart; and how its stack wires the deployer (blue = oms-primary).

No process is started: the stack's start-up steps are called with the process starts replaced."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel

from gameday.errors import ScenarioError
from gameday.scenario import StackPreset, parse_scenario, topology
from gameday.scenario.deploy_spec import DeploymentSpec, OmsSpec
from gameday.scenario.presets import PRESETS, InitialRole, presets_with_deployer
from gameday.stack.rundir import RunDir
from gameday.stack.settings import StackSettings
from reference_target.backends import DEPLOYING_STACKS, stack_for
from reference_target.blue_green import BlueGreenStack
from reference_target.dark_launch import INITIAL_ROLES, DarkLaunchStack
from reference_target.deploying import DeployingStack
from reference_target.local import LocalStack
from trading_stack.config import Defect
from trading_stack.deploy.breaker import BreakerConfig
from trading_stack.deploy.config import DeployConfig
from trading_stack.deploy.service_config import DeployerServiceConfig
from trading_stack.deploy.versions import OmsVersion
from trading_stack.front_door_routes import FrontDoorConfig

PRESET = StackPreset.ACTIVE_PASSIVE_DEPLOY
DOC = Path(__file__).parents[2] / "docs" / "scenario-format.md"
ADDED_HOPS = {"oms-green->exchange", "oms-green->nats", "oms-green->postgres", "oms-green->postgres-replica",
              "front-door->oms-primary", "front-door->oms-green", "front-door->nats", "deployer->oms-primary",
              "deployer->oms-green", "deployer->front-door", "deployer->nats"}


# -- the topology ------------------------------------------------------------------------------


def test_the_preset_is_active_passive_plus_green_the_front_door_and_the_deployer() -> None:
    stack, failover = topology(PRESET), topology(StackPreset.ACTIVE_PASSIVE)

    assert stack.services[:len(failover.services)] == failover.services
    assert stack.services[len(failover.services):] == ("oms-green", "front-door", "deployer")
    assert stack.oms_instances == ("oms-primary", "oms-dr", "oms-green")
    assert stack.vantages == ("witness",)
    assert stack.has_deployer
    assert set(stack.hop_names) - set(failover.hop_names) == ADDED_HOPS
    assert set(failover.hop_names) <= set(stack.hop_names)
    assert len(set(stack.hop_names)) == len(stack.hops)
    assert all(hop.source in stack.services + stack.vantages and hop.destination in stack.services
               for hop in stack.hops)


def test_the_existing_presets_are_unchanged() -> None:
    failover, blue_green = topology(StackPreset.ACTIVE_PASSIVE), topology(StackPreset.BLUE_GREEN)

    assert failover.services == ("nats", "postgres", "postgres-replica", "toxiproxy", "exchange",
                                 "oms-primary", "oms-dr", "failover", "db-failover")
    assert (len(failover.hops), failover.restartable, failover.has_deployer) == (12, (), False)
    assert not any("green" in name or "deployer" in name for name in failover.hop_names)
    assert blue_green.services == ("nats", "postgres", "toxiproxy", "exchange", "oms-blue", "oms-green",
                                   "front-door", "deployer")
    assert (len(blue_green.hops), blue_green.restartable) == (13, ("oms-blue", "oms-green"))
    assert presets_with_deployer() == (StackPreset.BLUE_GREEN, PRESET)


def test_every_oms_instance_can_be_restarted_and_nothing_else() -> None:
    assert topology(PRESET).restartable == ("oms-primary", "oms-dr", "oms-green")


# -- what a scenario may say -------------------------------------------------------------------


def _scenario(body: str, stack: str = "") -> str:
    return (f"name: checks\ndescription: load-time checks\nseed: 1\nstack: {{preset: {PRESET}{stack}}}\n"
            "workload: {orders_per_second: 10, symbols: [BTC-USD], duration: 20s}\n"
            f"{body}expect:\n  orders.ghost: 0\n")


@pytest.mark.parametrize("target", ["oms-primary", "oms-dr", "oms-green"])
def test_a_restart_of_an_oms_instance_loads(target: str) -> None:
    scenario = parse_scenario(_scenario(f"actions:\n  - {{at: 3s, action: restart, target: {target}}}\n"))

    assert [getattr(action, "target", None) for action in scenario.actions] == [target]


@pytest.mark.parametrize("target", ["front-door", "deployer", "failover", "postgres"])
def test_a_restart_of_another_service_is_refused_naming_the_restartable_ones(target: str) -> None:
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(_scenario(f"actions:\n  - {{at: 3s, action: restart, target: {target}}}\n"),
                       file="checks.yaml")

    [problem] = raised.value.problems
    assert problem.yaml_path == "actions[0].target"
    assert ("expected a service preset active-passive-deploy can restart, one of: oms-primary, oms-dr, "
            "oms-green") in problem.message


def test_a_restart_on_the_failover_preset_points_at_both_presets_that_restart() -> None:
    text = _scenario("actions:\n  - {at: 3s, action: restart, target: oms-primary}\n").replace(
        str(PRESET), str(StackPreset.ACTIVE_PASSIVE))

    with pytest.raises(ScenarioError) as raised:
        parse_scenario(text)

    assert "restart needs preset blue-green or active-passive-deploy" in raised.value.problems[0].message


def test_deploy_settings_deploy_actions_and_faults_on_every_service_load() -> None:
    body = ("actions:\n  - {at: 1s, action: deploy, version: 1.4.3}\n"
            "timeline:\n  - {at: 5s, fault: kill, target: oms-primary, id: primary-crash}\n"
            "  - {at: 2s, fault: partition, proxy: deployer->oms-primary, for: 1s}\n")

    scenario = parse_scenario(_scenario(body, ", deploy: {verification_window_s: 8}"))

    assert scenario.stack.deploy == DeployConfig(verification_window_s=8)
    assert [action.action.value for action in scenario.actions] == ["deploy"]
    assert len(scenario.timeline) == 2


# -- the stack ---------------------------------------------------------------------------------


def _settings(tmp_path: Path, preset: StackPreset = PRESET, **fields: Any) -> StackSettings:
    return StackSettings(run_dir=RunDir(tmp_path, "s"), seed=1, preset=preset, **fields)


def test_each_preset_gets_its_stack(tmp_path: Path) -> None:
    assert type(stack_for(_settings(tmp_path))) is DarkLaunchStack
    assert type(stack_for(_settings(tmp_path, StackPreset.BLUE_GREEN))) is BlueGreenStack
    assert type(stack_for(_settings(tmp_path, StackPreset.ACTIVE_PASSIVE))) is LocalStack
    assert set(DEPLOYING_STACKS) == set(presets_with_deployer())
    with pytest.raises(ValueError, match="expected preset active-passive-deploy"):
        DarkLaunchStack(_settings(tmp_path, StackPreset.BLUE_GREEN))
    assert list(tmp_path.iterdir()) == []  # building a stack starts and writes nothing


def test_the_stack_starts_the_presets_oms_instances_in_their_roles(tmp_path: Path) -> None:
    stack = DarkLaunchStack(_settings(tmp_path, initial_roles={"oms-dr": InitialRole.ACTIVE}))

    assert tuple(stack.default_roles) == topology(PRESET).oms_instances
    assert INITIAL_ROLES["oms-green"] is InitialRole.DORMANT
    assert stack.describe()["initial_roles"] == {"oms-primary": "active", "oms-dr": "active",
                                                 "oms-green": "dormant"}
    assert stack.describe()["preset"] == "active-passive-deploy"


async def test_every_oms_instance_started_is_registered_for_restart(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[str, InitialRole]] = []

    async def start_once(self: LocalStack, instance: str, role: InitialRole, nats: object) -> Any:
        started.append((instance, role))
        return SimpleNamespace(ports={"http": 4000 + len(started)}, pid=len(started))

    monkeypatch.setattr(LocalStack, "_start_oms", start_once)
    stack = DarkLaunchStack(_settings(tmp_path))
    for instance, role in INITIAL_ROLES.items():
        await stack._start_oms(instance, role, nats=None)  # type: ignore[arg-type]
    await stack._starters["oms-green"]()  # what a restart runs: a new boot on a new port

    assert sorted(stack._starters) == sorted(topology(PRESET).restartable)
    assert started[-1] == ("oms-green", InitialRole.DORMANT)
    assert stack.endpoints.oms == {"oms-primary": "http://127.0.0.1:4001", "oms-dr": "http://127.0.0.1:4002",
                                   "oms-green": "http://127.0.0.1:4004"}


def _with_proxies(stack: LocalStack) -> LocalStack:
    hops = topology(stack.settings.preset).hop_names
    stack.endpoints.proxies = {hop: f"127.0.0.1:{5000 + index}" for index, hop in enumerate(hops)}
    return stack


def test_green_gets_both_database_hosts_and_no_build_of_its_own(tmp_path: Path) -> None:
    deployment = DeploymentSpec(oms=OmsSpec(version=OmsVersion.V1_4_3, shutdown_fill_wait_s=1),
                                breaker=BreakerConfig(max_loss=10))
    stack = _with_proxies(DarkLaunchStack(_settings(tmp_path, deployment=deployment,
                                                    defects=(Defect.BREAKER_DISABLED,))))
    assert isinstance(stack, DarkLaunchStack)

    green = stack._oms_config_of("oms-green", InitialRole.DORMANT)
    primary = stack._oms_config_of("oms-primary", InitialRole.ACTIVE)

    proxies = stack.endpoints.proxies
    assert green.database_dsn.count(",") == 1
    assert proxies["oms-green->postgres"] in green.database_dsn
    assert proxies["oms-green->postgres-replica"] in green.database_dsn
    assert (green.initial_role, green.fix_sender_comp_id) == (InitialRole.DORMANT, "OMS-GREEN")
    assert (green.version, primary.version) == (OmsVersion.V1_4_2, OmsVersion.V1_4_3)
    assert green.shutdown_fill_wait_s == primary.shutdown_fill_wait_s == 1
    assert primary.breaker is not None
    assert primary.breaker.defects == (Defect.BREAKER_DISABLED,)
    assert [session.sender_comp_id for session in stack._venue_config().sessions] == [
        "OMS-PRIMARY", "OMS-DR", "OMS-GREEN"]


@pytest.mark.parametrize(("stack_type", "preset", "blue"), [
    (DarkLaunchStack, PRESET, "oms-primary"),
    (BlueGreenStack, StackPreset.BLUE_GREEN, "oms-blue"),
])
async def test_the_front_door_and_the_deployer_name_the_presets_blue_and_green(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stack_type: type[DeployingStack],
        preset: StackPreset, blue: str) -> None:
    deployment = DeploymentSpec(deploy=DeployConfig(verification_window_s=8, verification_deadline_s=14))
    stack = stack_type(_settings(tmp_path, preset, deployment=deployment,
                                 defects=(Defect.DEPLOY_IGNORES_BLUE_HEALTH,)))
    _with_proxies(stack)
    configs: dict[str, BaseModel] = {}

    async def start_service(name: str, module: str, config: BaseModel) -> Any:
        configs[name] = config
        return SimpleNamespace(ports={"http": 6000 + len(configs)})

    async def no_proxies(upstream_by_service: dict[str, str]) -> None:
        return None

    monkeypatch.setattr(stack, "_start_service", start_service)
    monkeypatch.setattr(stack, "_proxy_to", no_proxies)
    await stack._start_front_door()
    await stack._start_deployer()

    door, deployer = configs["front-door"], configs["deployer"]
    assert isinstance(door, FrontDoorConfig)
    assert isinstance(deployer, DeployerServiceConfig)
    assert list(door.instances) == [blue, "oms-green"]
    assert [(u.instance, u.weight) for u in door.upstreams] == [(blue, 100)]
    assert (deployer.deploy.blue, deployer.deploy.green) == (blue, "oms-green")
    assert (deployer.deploy.verification_window_s, deployer.deploy.verification_deadline_s) == (8, 14)
    proxies = stack.endpoints.proxies
    assert str(deployer.oms_admin_urls.blue).rstrip("/") == f"http://{proxies[f'deployer->{blue}']}"
    assert str(deployer.oms_admin_urls.green).rstrip("/") == f"http://{proxies['deployer->oms-green']}"
    assert deployer.defects == (Defect.DEPLOY_IGNORES_BLUE_HEALTH,)
    assert stack.endpoints.deployer == "http://127.0.0.1:6002"


# -- the reference page ------------------------------------------------------------------------


def _row(preset: StackPreset) -> list[str]:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    rows = [line for line in lines if line.startswith(f"| `{preset}` |")]
    assert len(rows) == 1, f"docs/scenario-format.md has {len(rows)} presets rows for {preset}"
    return [cell.strip() for cell in rows[0].strip("|").split("|")]


def _names(cell: str) -> tuple[str, ...]:
    if cell == "none":
        return ()
    return tuple(name.strip().strip("`") for name in cell.split(","))


@pytest.mark.parametrize("preset", list(PRESETS))
def test_the_presets_table_lists_what_the_code_does(preset: StackPreset) -> None:
    _, services, instances, restartable, hops = _row(preset)
    stack = topology(preset)

    assert _names(services) == stack.services
    assert _names(instances) == stack.oms_instances
    assert _names(restartable) == stack.restartable
    assert _names(hops) == stack.hop_names
