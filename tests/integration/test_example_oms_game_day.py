"""A second OMS, graded end to end through a target file: the cold-standby example
(examples/cold_standby_oms), trading on the venue's WebSocket API, with no NATS, no lease and no
failover daemon. Its weaknesses must come out as failing expectations with evidence, never as
errors: a catalog failover scenario finds nobody takes over; the takeover scenario finds the
standby's positions miss the fills executed while no instance ran."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
import yaml

from gameday.runner import RunOutcome, RunSettings, run_scenario
from gameday.scenario import load_scenario
from gameday.target_file import TargetFile, load_target_file, scenario_gaps
from gameday.verdict import Verdict
from gameday.workload import reference_price
from tests.integration.exchange_helpers import MOCK_EXCHANGE, exchange_process
from tests.integration.test_example_oms import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
OMS_SCRIPT = ROOT / "examples" / "cold_standby_oms" / "oms.py"
TAKEOVER = ROOT / "examples" / "cold_standby_oms" / "scenarios" / "cold-standby-takeover.yaml"
CATALOG_CRASH = ROOT / "scenarios" / "failover-primary-crash.yaml"
ACCOUNT, API_KEY = "desk", "desk-key"
READY_TIMEOUT_S = 20.0


def _oms_argv(instance: str, http_port: int, ws_port: int, state: Path) -> list[str]:
    return [sys.executable, str(OMS_SCRIPT), "--instance", instance, "--http-port", str(http_port),
            "--venue-ws", f"ws://127.0.0.1:{ws_port}/", "--account", ACCOUNT, "--api-key", API_KEY,
            "--state-dir", str(state)]


@asynccontextmanager
async def _primary(argv: list[str], log: Path) -> AsyncIterator[int]:
    with log.open("ab") as sink:
        process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE, stderr=sink)
    try:
        assert process.stdout is not None
        async with asyncio.timeout(READY_TIMEOUT_S):
            while not (line := (await process.stdout.readline()).decode()).startswith("READY"):
                assert line, f"the OMS exited before READY; see {log}"
        yield process.pid
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


def _kill_recorded(pid_file: Path) -> None:
    """The standby the target's restart command started (it wrote its PID): the test's to stop."""
    try:
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
    except (OSError, ValueError, IndexError):
        pass  # never started, or already gone


@asynccontextmanager
async def cold_standby_stack(tmp_path: Path, symbols: list[str]) -> AsyncIterator[TargetFile]:
    """The venue and the example OMS as ``oms-primary``; the target file says how to start the cold
    standby ``oms-dr`` (a command that backgrounds it on the same journal) and how to kill the primary."""
    venue_argv = [*MOCK_EXCHANGE, "--fix-port", "0", "--admin-port", "0", "--ws-port", "0",
                  "--ws-account", f"{ACCOUNT}:{API_KEY}", "--client-comp-id", "UNUSED", "--seed", "5",
                  "--ledger", str(tmp_path / "venue.jsonl"), "--log-level", "WARNING",
                  *(arg for symbol in symbols
                    for arg in ("--symbol", f"{symbol}:{reference_price(symbol):g}"))]
    state, standby_pid = tmp_path / "state", tmp_path / "oms-dr.pid"
    async with AsyncExitStack() as stack:
        venue = await stack.enter_async_context(exchange_process(venue_argv, tmp_path / "venue.log"))
        ws, admin = venue.ports["ws"], venue.ports["admin"]
        primary_port, standby_port = free_port(), free_port()
        primary_pid = await stack.enter_async_context(
            _primary(_oms_argv("oms-primary", primary_port, ws, state), tmp_path / "oms-primary.log"))
        stack.callback(_kill_recorded, standby_pid)
        start_standby = shlex.join(_oms_argv("oms-dr", standby_port, ws, state))
        target = {
            "name": "cold-standby",
            "oms": {"instances": {"oms-primary": f"http://127.0.0.1:{primary_port}",
                                  "oms-dr": f"http://127.0.0.1:{standby_port}"}},
            "venue": {"admin_url": f"http://127.0.0.1:{admin}"},
            "services": {
                "oms-primary": {"pid": primary_pid},
                "oms-dr": {"commands": {"restart": shlex.join([
                    "sh", "-c",
                    f"{start_standby} >>{tmp_path / 'oms-dr.log'} 2>&1 & echo $! >{standby_pid}"])}},
            },
        }
        path = tmp_path / "cold-standby.yaml"
        path.write_text(yaml.safe_dump(target, sort_keys=False))
        yield load_target_file(path)


async def _graded(scenario_path: Path, tmp_path: Path) -> RunOutcome:
    symbols = yaml.safe_load(scenario_path.read_text())["workload"]["symbols"]  # the venue lists them
    async with cold_standby_stack(tmp_path, symbols) as target:
        restartable = [name for name, access in target.services.items() if access.can("restart")]
        scenario = load_scenario(scenario_path, restartable=restartable)
        assert scenario_gaps(target, scenario) == []
        return await run_scenario(scenario, scenario_path, RunSettings(
            reports_root=tmp_path / "reports", target_file=target))


def _by_name(outcome: RunOutcome) -> dict[str, tuple[Verdict, str]]:
    return {e.name: (e.verdict, e.note) for e in outcome.result.expectations}


async def test_a_catalog_failover_finds_that_nobody_takes_over(tmp_path: Path) -> None:
    outcome = await _graded(CATALOG_CRASH, tmp_path)

    assert outcome.error is None  # graded, not aborted: the outage is the observation
    verdicts = _by_name(outcome)
    assert verdicts["rto.failover"][0] is Verdict.FAIL, verdicts
    assert verdicts["trading.available_at_end"][0] is Verdict.FAIL, verdicts
    assert outcome.result.exit_code == 1


async def test_the_cold_standby_takes_over_but_misses_the_fills_of_the_outage(tmp_path: Path) -> None:
    outcome = await _graded(TAKEOVER, tmp_path)

    assert outcome.error is None
    verdicts = _by_name(outcome)
    assert verdicts["rto.failover"][0] is Verdict.PASS, verdicts  # the operator started it in time
    assert verdicts["trading.available_at_end"][0] is Verdict.PASS, verdicts
    assert verdicts["writers.concurrent_active"][0] is Verdict.PASS, verdicts
    assert verdicts["positions.mismatch_bps"][0] is Verdict.FAIL, verdicts  # its journal, not the venue
    positions = next(e for e in outcome.result.expectations if e.name == "positions.mismatch_bps")
    assert positions.evidence, "the mismatch comes with its evidence"
