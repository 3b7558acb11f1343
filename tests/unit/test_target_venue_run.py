"""A target file's ``venue.run`` (the harness runs our venue for each run) and ``deployer``: what is
checked before anything runs, the venue a run would start, and the gaps a scenario meets."""

from __future__ import annotations

import asyncio
import json
import socket
import tempfile
from pathlib import Path

import pytest

from gameday.contract.run import CheckOptions, check_contract
from gameday.errors import StackError, TargetFileError
from gameday.operator import operator_endpoints
from gameday.scenario import parse_scenario
from gameday.stack.external import ExternalStack
from gameday.stack.run_venue import venue_config
from gameday.stack.rundir import RunDir
from gameday.stack.settings import StackSettings
from gameday.target_file import TargetFile, load_target_file, scenario_gaps
from gameday.workload import reference_price

RUN_TARGET = """\
name: staging
oms:
  instances: {oms-primary: "http://127.0.0.1:8080", oms-dr: "http://127.0.0.1:8081"}
  admin_token: oms-admin
venue:
  run:
    fix_port: 9878
    admin_port: 9000
    ws_port: 9879
    sessions: [OMS-PRIMARY, OMS-DR]
deployer: {url: "http://127.0.0.1:8600/"}
"""

DEPLOY_SCENARIO = """\
name: deploys
description: a deploy then a rollback
seed: 7
stack: {preset: blue-green}
workload: {orders_per_second: 5, symbols: [ETH-USD], duration: 10s}
actions:
  - {at: 1s, action: deploy, version: 1.4.2}
  - {at: 5s, action: rollback, operator: alice}
expect:
  orders.ghost: 0
"""


def _write(tmp_path: Path, text: str, name: str = "target.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _problem(tmp_path: Path, text: str) -> str:
    """The one line a bad file is refused with."""
    with pytest.raises(TargetFileError) as raised:
        load_target_file(_write(tmp_path, text))
    assert len(raised.value.problems) == 1, raised.value
    return str(raised.value)


def _settings(tmp_path: Path, seed: int = 7) -> StackSettings:
    return StackSettings(run_dir=RunDir(tmp_path / "reports", "s", scratch_root=None), seed=seed,
                         symbols=("ETH-USD",))


def test_a_venue_the_harness_runs_loads_with_its_ports_and_sessions(tmp_path: Path) -> None:
    target = load_target_file(_write(tmp_path, RUN_TARGET))
    run = target.venue.run
    assert run is not None
    assert target.venue.admin_url is None
    assert (run.fix_port, run.admin_port, run.ws_port) == (9878, 9000, 9879)
    assert run.sessions == ("OMS-PRIMARY", "OMS-DR")
    assert "venue.admin_url" not in target.endpoints()  # nothing to reach until the run starts it
    assert target.endpoints()["deployer.url"] == "http://127.0.0.1:8600/"


def test_the_venue_a_run_starts_is_the_files_with_the_harnesss_ledger_token_and_seed(tmp_path: Path) -> None:
    run = load_target_file(_write(tmp_path, RUN_TARGET)).venue.run
    assert run is not None
    config = venue_config(run, ledger_path=tmp_path / "run" / "ledger.jsonl", admin_token="t0k",
                          seed=7, symbols=("ETH-USD",))
    assert (config.fix_port, config.admin_port, config.ws_port) == (9878, 9000, 9879)
    assert config.host == "127.0.0.1"
    assert [session.sender_comp_id for session in config.sessions] == ["OMS-PRIMARY", "OMS-DR"]
    assert config.ledger_path == tmp_path / "run" / "ledger.jsonl"
    assert (config.admin_token, config.seed) == ("t0k", 7)
    # no symbols in the file: the workload's, where the workload prices its orders
    assert [(s.symbol, s.start_price) for s in config.symbols] == [("ETH-USD", reference_price("ETH-USD"))]


def test_a_venue_config_file_gives_the_rest_and_the_files_fields_override_it(tmp_path: Path) -> None:
    (tmp_path / "venue.json").write_text(json.dumps({
        "fix_port": 1111, "admin_port": 2222, "accept_any_session": True, "fill_probability": 0.25,
        "ws_accounts": [{"account": "desk", "api_key": "k"}], "ledger_path": "/elsewhere.jsonl",
        "admin_token": "from-the-file", "seed": 99,
        "symbols": [{"symbol": "ABC-USD", "start_price": 50}]}))
    symbols = "    symbols: [BTC-USD, {symbol: XYZ, start_price: 3}]\n"
    text = RUN_TARGET.replace("    sessions: [OMS-PRIMARY, OMS-DR]\n", "    config: ./venue.json\n" + symbols)
    run = load_target_file(_write(tmp_path, text)).venue.run
    assert run is not None
    config = venue_config(run, ledger_path=tmp_path / "l.jsonl", admin_token="fresh", seed=3,
                          symbols=("ETH-USD",))
    assert (config.fix_port, config.admin_port) == (9878, 9000)  # the target file's
    assert config.accept_any_session
    assert config.fill_probability == 0.25
    assert [account.account for account in config.ws_accounts] == ["desk"]
    assert (config.ledger_path, config.admin_token, config.seed) == (tmp_path / "l.jsonl", "fresh", 3)
    assert [(s.symbol, s.start_price) for s in config.symbols] == [
        ("BTC-USD", reference_price("BTC-USD")), ("XYZ", 3.0)]
    # without symbols in the target file, the config's symbols win over the workload's
    bare = load_target_file(_write(tmp_path, text.replace(symbols, ""))).venue.run
    assert bare is not None
    assert [s.symbol for s in venue_config(bare, ledger_path=tmp_path / "l", admin_token="t", seed=1,
                                           symbols=("ETH-USD",)).symbols] == ["ABC-USD"]


@pytest.mark.parametrize(("venue", "message"), [
    ('  admin_url: "http://127.0.0.1:9000"\n  run: {fix_port: 9878, sessions: [A]}\n',
     "target.yaml:6: venue: expected admin_url (a venue already running) or run (the harness runs ours), "
     "got both"),
    ("  {}\n",
     "venue: expected admin_url (a venue already running) or run (the harness runs ours), got neither"),
    ("  admin_token_env: T\n  run: {fix_port: 9878, sessions: [A]}\n",
     "venue: expected no admin_token or admin_token_env with run, got one"),
])
def test_a_running_venue_and_one_the_harness_runs_exclude_each_other(tmp_path: Path, venue: str,
                                                                     message: str) -> None:
    text = RUN_TARGET.split("venue:\n")[0] + "venue:\n" + venue
    assert message in _problem(tmp_path, text)


@pytest.mark.parametrize(("run", "message"), [
    ("{fix_port: 0, sessions: [A]}",
     "target.yaml:7: venue.run.fix_port: expected greater than or equal to 1, got 0"),
    ("{fix_port: 70000, sessions: [A]}",
     "venue.run.fix_port: expected less than or equal to 65535, got 70000"),
    ("{fix_port: nine, sessions: [A]}", "venue.run.fix_port: expected a valid integer"),
    ("{fix_port: 9878, admin_port: -1, sessions: [A]}",
     "venue.run.admin_port: expected greater than or equal to 0, got -1"),
    ("{fix_port: 9878, ws_port: 9878, sessions: [A]}",
     "venue.run: expected fix_port, ws_port and admin_port to differ, got [9878, 9878]"),
    ("{admin_port: 9000, sessions: [A]}",
     "venue.run: expected fix_port or ws_port: the fixed port your OMS connects to"),
    ("{fix_port: 9878}", "venue.run: expected sessions (the SenderCompIDs your OMS logs on with), "
                         "accept_any_session: true, or a config with sessions or ws_accounts"),
    ("{fix_port: 9878, sessions: ['']}", "venue.run.sessions[0]: String should have at least 1 character"),
    ("{fix_port: 9878, sessions: [A], symbols: []}", "venue.run.symbols: "),
    ("{fix_port: 9878, sessions: [A], host: 0.0.0.0}", "venue.run.host: "),
])
def test_bad_ports_and_missing_sessions_are_named_at_their_yaml_path(tmp_path: Path, run: str,
                                                                     message: str) -> None:
    fields = run[1:-1].replace(", ", "\n    ")  # one field a line: each error on its own line
    text = RUN_TARGET.split("venue:\n")[0] + f"venue:\n  run:\n    {fields}\n"
    assert message in _problem(tmp_path, text)


@pytest.mark.parametrize(("config", "message"), [
    (None, "venue.run.config: expected a mock_exchange VenueConfig JSON file (relative to the target file), "
           "got '"),
    ("{not json", "venue.run.config: expected a mock_exchange VenueConfig JSON file (relative to the target "
                  "file), got "),
    ('{"venues": []}', "venue.run.config: expected one venue's VenueConfig (a JSON object), got "),
    ('{"fill_probability": 3}',
     "venue.run.config: expected a mock_exchange VenueConfig with the overrides of venue.run, got "
     "fill_probability: Input should be less than or equal to 1"),
    ('{"host": "0.0.0.0"}', "venue.run.config: expected the venue on loopback (host 127.0.0.1), got host "
                            "'0.0.0.0'"),
])
def test_a_bad_venue_config_file_is_named_at_venue_run_config(tmp_path: Path, config: str | None,
                                                              message: str) -> None:
    if config is not None:
        (tmp_path / "venue.json").write_text(config)
    text = RUN_TARGET.replace("    sessions: [OMS-PRIMARY, OMS-DR]\n",
                              "    sessions: [OMS-PRIMARY, OMS-DR]\n    config: venue.json\n")
    line = _problem(tmp_path, text)
    assert message in line, line
    assert "target.yaml:11: " in line  # the line of venue.run.config


def test_a_deployer_off_loopback_is_refused_unless_allowed(tmp_path: Path) -> None:
    path = _write(tmp_path, RUN_TARGET.replace("http://127.0.0.1:8600/", "http://10.0.0.5:8600"))
    with pytest.raises(TargetFileError, match=r"deployer\.url: '.*10\.0\.0\.5.*' is not on loopback"):
        load_target_file(path)
    target = load_target_file(path, allow_remote=True)
    assert target.deployer is not None
    assert target.deployer.url == "http://10.0.0.5:8600"


def test_deploy_actions_need_a_deployer_in_the_file(tmp_path: Path) -> None:
    scenario = parse_scenario(DEPLOY_SCENARIO)
    with_deployer = load_target_file(_write(tmp_path, RUN_TARGET))
    assert scenario_gaps(with_deployer, scenario) == []
    without = load_target_file(_write(tmp_path, RUN_TARGET.replace('deployer: {url: "http://127.0.0.1:8600/"}\n',
                                                                   "")))
    assert scenario_gaps(without, scenario) == [
        "scenario asks for a deploy: the target names no deployer (deployer.url)",
        "scenario asks for a rollback: the target names no deployer (deployer.url)"]


def test_the_operator_sends_deploys_to_the_files_deployer_with_the_oms_admin_token(tmp_path: Path) -> None:
    target = load_target_file(_write(tmp_path, RUN_TARGET))
    stack = ExternalStack(target, _settings(tmp_path), admin_token="oms-admin", environ={})
    assert operator_endpoints(stack).deployer == "http://127.0.0.1:8600"
    assert stack.settings.admin_token == "oms-admin"
    assert stack.describe()["target"]["file_capabilities"]["deployer"] is True


def test_each_run_of_the_venue_gets_a_fresh_admin_token(tmp_path: Path) -> None:
    target = load_target_file(_write(tmp_path, RUN_TARGET))
    first = ExternalStack(target, _settings(tmp_path), environ={})
    second = ExternalStack(target, _settings(tmp_path), environ={"MOCKEX_ADMIN_TOKEN": "ignored"})
    assert first.endpoints.venue_admin_token
    assert second.endpoints.venue_admin_token
    assert first.endpoints.venue_admin_token != second.endpoints.venue_admin_token
    assert first.endpoints.venue_admin == ""  # known once the venue serves


def test_a_fixed_port_in_use_stops_the_run_before_anything_starts_naming_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        text = RUN_TARGET.replace("fix_port: 9878", f"fix_port: {port}").replace("admin_port: 9000",
                                                                                  "admin_port: 0")
        stack = ExternalStack(load_target_file(_write(tmp_path, text)), _settings(tmp_path), environ={})

        async def attach() -> None:
            async with stack:
                raise AssertionError("the stack must not start")

        with pytest.raises(StackError, match=rf"venue\.run\.fix_port: 127\.0\.0\.1:{port} is already in use"):
            asyncio.run(attach())
    reports = tmp_path / "reports"
    assert not list(reports.glob(".active/*.json"))  # no registry left behind: nothing was started
    assert not list(reports.glob("**/venue.log"))


def test_the_contract_check_starts_no_venue_on_a_port_in_use_and_leaves_nothing_behind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the check keeps its venue's files
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        target = TargetFile.model_validate({"name": "t", "oms": {"instances": {"a": "http://127.0.0.1:1"}},
                                            "venue": {"run": {"fix_port": port, "sessions": ["A"]}}})
        with pytest.raises(StackError, match=rf"venue\.run\.fix_port: 127\.0\.0\.1:{port} is already in use"):
            asyncio.run(check_contract(target, CheckOptions()))
    assert list(tmp_path.iterdir()) == []  # its directory went with it
