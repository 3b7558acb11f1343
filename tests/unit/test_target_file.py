"""Target files: what a user's stack gives the harness, checked before anything runs."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from gameday.errors import StackError, TargetFileError
from gameday.loopback import is_loopback_address
from gameday.scenario import parse_scenario
from gameday.stack.external import venue_admin_token_of
from gameday.stack.service_doors import CommandDoor, PidDoor
from gameday.target_file import CommandSet, load_target_file, scenario_gaps

TARGET = """\
name: staging
oms:
  instances: {oms-primary: "http://127.0.0.1:8080", oms-dr: "http://localhost:8081"}
  admin_token_env: STAGING_TOKEN
venue: {admin_url: "http://127.0.0.1:9000"}
database: {dsn: "postgresql://oms@127.0.0.1:5432,127.0.0.2:5433/oms"}
toxiproxy:
  url: http://127.0.0.1:8474
  proxies: {"failover->oms-primary": staging_failover_primary}
services:
  oms-primary: {pid_file: /run/oms-primary.pid}
  oms-dr: {commands: {kill: "systemctl kill -s {signal} oms-dr"}}
"""

SCENARIO = """\
name: combined
description: a kill, a pause and a partition
seed: 3
stack: {preset: active-passive}
workload: {orders_per_second: 5, symbols: [BTC-USD], duration: 10s}
timeline:
  - {at: 1s, fault: kill, target: oms-primary}
  - {at: 2s, fault: pause, target: oms-dr, for: 1s}
  - {at: 3s, fault: partition, proxy: "oms-dr->exchange", for: 1s}
  - {at: 4s, fault: latency, proxy: "failover->oms-primary", latency_ms: 100, for: 1s}
expect:
  orders.ghost: 0
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "target.yaml"
    path.write_text(text)
    return path


def test_a_target_file_loads(tmp_path: Path) -> None:
    target = load_target_file(_write(tmp_path, TARGET))
    assert target.oms.instances["oms-dr"] == "http://localhost:8081"
    assert target.toxiproxy is not None
    assert target.toxiproxy.proxies == {"failover->oms-primary": "staging_failover_primary"}


def test_each_gap_between_a_scenario_and_the_target_is_named(tmp_path: Path) -> None:
    gaps = scenario_gaps(load_target_file(_write(tmp_path, TARGET)), parse_scenario(SCENARIO))
    assert len(gaps) == 2  # the kill and the latency on a wired hop are reachable
    assert gaps[0].startswith("scenario pauses oms-dr (fault ")
    assert gaps[0].endswith("the target gives no way to pause or resume it (services.oms-dr)")
    assert "disturbs hop oms-dr->exchange: the target wires no proxy for it (toxiproxy.proxies)" in gaps[1]


def test_a_service_needs_exactly_one_way_in(tmp_path: Path) -> None:
    text = TARGET.replace("oms-primary: {pid_file: /run/oms-primary.pid}",
                          "oms-primary: {pid: 42, container: staging-oms-1}")
    with pytest.raises(TargetFileError) as raised:
        load_target_file(_write(tmp_path, text))
    [problem] = raised.value.problems
    assert problem.yaml_path == 'services["oms-primary"]'
    assert "exactly one of pid, pid_file, container or commands, got pid, container" in problem.message
    assert problem.line == 11


def test_endpoints_off_loopback_are_refused_unless_allowed(tmp_path: Path) -> None:
    path = _write(tmp_path, TARGET.replace("http://127.0.0.1:9000", "http://10.1.2.3:9000"))
    with pytest.raises(TargetFileError, match=r"venue\.admin_url: '.*10\.1\.2\.3.*' is not on loopback"):
        load_target_file(path)
    assert load_target_file(path, allow_remote=True).venue.admin_url == "http://10.1.2.3:9000"


@pytest.mark.parametrize(("address", "loopback"), [
    ("http://127.0.0.1:1", True), ("http://localhost", True), ("http://[::1]:80/x", True),
    ("postgresql://u@127.0.0.1:1,127.0.0.9:2/db", True),
    ("postgresql://u@127.0.0.1:1,db.internal:2/db", False),
    ("nats://staging.example:4222", False), ("http://192.168.1.1", False), ("not a url", False),
])
def test_loopback_means_every_host(address: str, loopback: bool) -> None:
    assert is_loopback_address(address) is loopback


def test_a_malformed_target_file_names_the_path_and_never_raises_anything_else(tmp_path: Path) -> None:
    for text in ("", "[1, 2]", "name: x\noms: {instances: {}}\nvenue: {}\n", "name: [\n", "\x00"):
        with pytest.raises(TargetFileError):
            load_target_file(_write(tmp_path, text))


def test_a_command_template_runs_with_the_signal_filled_in(tmp_path: Path) -> None:
    log = tmp_path / "log"
    door = CommandDoor("oms-dr", CommandSet(
        kill=f"{sys.executable} -c \"import sys; open(sys.argv[1], 'a').write(sys.argv[2])\" "
             f"{log} {{signal}}",
        pause="false"))
    outcome = asyncio.run(door.signal(signal.SIGKILL))
    assert log.read_text() == "SIGKILL"
    assert outcome["via"] == "command"
    with pytest.raises(StackError, match="pause command exited 1"):
        asyncio.run(door.signal(signal.SIGSTOP))
    with pytest.raises(StackError, match="no resume command"):
        asyncio.run(door.signal(signal.SIGCONT))


def test_a_pid_file_is_read_at_each_fault(tmp_path: Path) -> None:
    pid_file = tmp_path / "oms.pid"
    door = PidDoor("oms-primary", None, pid_file)
    with pytest.raises(StackError, match="no PID"):
        door.pid()
    pid_file.write_text("4242\n")
    assert door.pid() == 4242


def test_the_venue_may_name_its_admin_token_literally_or_by_variable(tmp_path: Path) -> None:
    by_variable = TARGET.replace('venue: {admin_url: "http://127.0.0.1:9000"}',
                                 'venue: {admin_url: "http://127.0.0.1:9000", admin_token_env: VENUE_TOKEN}')
    target = load_target_file(_write(tmp_path, by_variable))
    assert target.venue.admin_token_env == "VENUE_TOKEN"
    assert venue_admin_token_of(target, {"VENUE_TOKEN": "s3cret"}) == "s3cret"
    literal = load_target_file(_write(tmp_path, TARGET.replace("admin_url: \"http://127.0.0.1:9000\"}",
                                                                "admin_url: \"http://127.0.0.1:9000\", "
                                                                "admin_token: s3cret}")))
    assert venue_admin_token_of(literal, {}) == "s3cret"
    assert "s3cret" not in repr(literal.venue)
    assert venue_admin_token_of(load_target_file(_write(tmp_path, TARGET)), {"VENUE_TOKEN": "x"}) is None
    with pytest.raises(TargetFileError, match=r"venue\.token"):
        load_target_file(_write(tmp_path, TARGET.replace("admin_url: \"http://127.0.0.1:9000\"}",
                                                         "admin_url: \"http://127.0.0.1:9000\", token: s}")))
