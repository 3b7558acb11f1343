"""A target file that asks the harness to run our venue (``venue.run``) for a stack it did not start.

The cold-standby example OMS (examples/cold_standby_oms) runs on its own, configured with a fixed
venue WebSocket port where nothing listens yet. Each run starts ``mock_exchange`` there (from a
VenueConfig JSON the target file names, with the harness's ledger, token and seed), the OMS
reconnects to it, a short game day is graded on the venue's ledger, and no venue is left once the
run ends. A harness killed with SIGKILL takes its venue along; the next run's reaper clears the
record, and stops a venue that outlived its harness.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
import yaml

from gameday.history import OpKind, OpType, read_history
from gameday.runner import RunSettings, run_scenario
from gameday.scenario import load_scenario
from gameday.stack.process import process_start_ticks
from gameday.stack.reaper import reap_stale_runs
from gameday.stack.run_venue import PROCESS_NAME, RunVenue
from gameday.stack.rundir import RunDir
from gameday.stack.settings import StackSettings
from gameday.target_file import load_target_file, scenario_gaps
from gameday.verdict import Verdict
from tests.integration.processes import alive, wait_for
from tests.integration.test_example_oms import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
OMS_SCRIPT = ROOT / "examples" / "cold_standby_oms" / "oms.py"
ACCOUNT, API_KEY = "desk", "desk-key"
READY_TIMEOUT_S = 20.0
CLI = "from gameday.cli import main; main()"
SCENARIO = """\
name: venue-run-day
description: a short day on an OMS whose venue the harness runs, with a price move at the venue
seed: 5
stack: {preset: active-passive}
workload: {orders_per_second: 20, symbols: [BTC-USD], duration: 4s}
timeline:
  - {at: 1s, fault: exchange, kind: price_path, for: 1s, params: {symbol: BTC-USD, move_pct: -1, over_s: 0.5}}
expect:
  trading.available_at_end: 1
  positions.mismatch_bps: {max: 0}
  orders.ghost: 0
  writers.concurrent_active: {max: 1}
"""


@asynccontextmanager
async def cold_standby_oms(tmp_path: Path, ws_port: int) -> AsyncIterator[str]:
    """The example OMS as ``oms-primary``, pointed at a venue WebSocket port nothing serves yet."""
    log = tmp_path / "oms-primary.log"
    argv = [sys.executable, str(OMS_SCRIPT), "--instance", "oms-primary", "--http-port", "0",
            "--venue-ws", f"ws://127.0.0.1:{ws_port}/", "--account", ACCOUNT, "--api-key", API_KEY,
            "--state-dir", str(tmp_path / "oms-state")]
    with log.open("ab") as sink:
        process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE, stderr=sink)
    try:
        assert process.stdout is not None
        async with asyncio.timeout(READY_TIMEOUT_S):
            while not (line := (await process.stdout.readline()).decode()).startswith("READY"):
                assert line, f"the OMS exited before READY; see {log}"
        yield f"http://127.0.0.1:{line.split('=')[1].strip()}"
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


def _target(tmp_path: Path, oms_url: str, ws_port: int) -> Path:
    """A target file whose venue the harness runs: the WebSocket port and account from a VenueConfig
    JSON beside it, the port overridden by the file (the OMS's configuration names it)."""
    (tmp_path / "venue.json").write_text(json.dumps({
        "fix_port": 0, "ws_port": 1, "ws_accounts": [{"account": ACCOUNT, "api_key": API_KEY}],
        "fill_probability": 0.8}))
    path = tmp_path / "target.yaml"
    path.write_text(yaml.safe_dump({
        "name": "cold-standby-run-venue",
        "oms": {"instances": {"oms-primary": oms_url}},
        "venue": {"run": {"ws_port": ws_port, "config": "./venue.json"}},
    }, sort_keys=False))
    return path


def _scenario(tmp_path: Path) -> Path:
    path = tmp_path / "venue-run-day.yaml"
    path.write_text(SCENARIO)
    return path


def _venues_running(config: Path) -> list[int]:
    """Every live process (not a zombie) whose command line names ``config``: /proc, not our bookkeeping."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(config).encode() in cmdline and alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


async def test_a_target_file_with_venue_run_grades_a_real_oms_on_the_ledger_of_a_venue_it_ran(
        tmp_path: Path) -> None:
    ws_port = free_port()
    reports = tmp_path / "reports"
    progress: list[str] = []
    async with cold_standby_oms(tmp_path, ws_port) as oms_url:
        target = load_target_file(_target(tmp_path, oms_url, ws_port))
        scenario_path = _scenario(tmp_path)
        scenario = load_scenario(scenario_path)
        assert scenario_gaps(target, scenario) == []
        assert _port_free(ws_port), "nothing serves the OMS's venue port before the run"
        settings = RunSettings(reports_root=reports, target_file=target)
        outcome = await run_scenario(scenario, scenario_path, settings, progress=progress.append)
        # the run is over: its venue is gone though the OMS still runs (and reconnects in vain)
        assert _venues_running(outcome.run_dir / "stack" / "venue.json") == []
        assert _port_free(ws_port)

    assert outcome.error is None, (outcome.error, progress)
    verdicts = {e.name: (e.verdict, e.note) for e in outcome.result.expectations}
    for name in ("positions.mismatch_bps", "orders.ghost", "trading.available_at_end",
                 "writers.concurrent_active"):
        assert verdicts[name][0] is Verdict.PASS, verdicts  # graded on the venue's ledger, not unknown
    ops = read_history(outcome.run_dir / "history.jsonl")
    start = next(op for op in ops if op.kind is OpKind.RUN and op.f == "start")
    venue = start.value["venue"]
    assert venue["run"] is True
    assert venue["ports"]["ws_port"] == ws_port
    assert venue["admin_url"].startswith("http://127.0.0.1:")
    assert start.value["target"]["file_capabilities"]["venue"] == "run"
    fault = [(op.f, op.type) for op in ops if op.kind is OpKind.FAULT and op.value.get("fault") == "exchange"]
    # the run's token opened the venue's admin API: the fault was applied and healed
    assert fault == [("exchange", OpType.INVOKE), ("exchange", OpType.OK), ("heal", OpType.INVOKE),
                     ("heal", OpType.OK)], fault
    # the ledger of the run is in the run directory, and holds the OMS's orders, attributed to it
    ledger = (outcome.run_dir / "ledger.jsonl").read_text()
    assert ledger.count("\n") > 20
    assert "oms-primary" in ledger
    # the venue's config (with the run's admin token) is its owner's only; the token is nowhere else
    config = outcome.run_dir / "stack" / "venue.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    token = json.loads(config.read_text())["admin_token"]
    for recorded in ("history.jsonl", "run.json", "results.json"):
        assert token not in (outcome.run_dir / recorded).read_text()
    assert not alive(venue["pid"]) or process_start_ticks(venue["pid"]) is None
    assert list((reports / ".active").glob("*.json")) == []  # the run's registry went with its venue


def test_a_harness_killed_with_sigkill_takes_its_venue_and_the_next_run_reaps_what_is_left(
        tmp_path: Path) -> None:
    ws_port = free_port()
    reports = tmp_path / "reports"
    target = _target(tmp_path, f"http://127.0.0.1:{free_port()}", ws_port)  # no OMS: the run waits for one
    harness = subprocess.Popen([sys.executable, "-c", CLI, "run", "--target", str(target),
                                str(_scenario(tmp_path)), "--reports", str(reports)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        venue_pid = _wait_for_the_venue(reports)
        harness_ticks = process_start_ticks(harness.pid)
        harness.send_signal(signal.SIGKILL)
        harness.communicate(timeout=30)
    finally:
        if harness.poll() is None:
            harness.kill()
            harness.wait()

    wait_for(lambda: not alive(venue_pid), 10, "the venue to die with its harness")
    assert _port_free(ws_port), "the fixed port is free for the next run"
    [record] = list((reports / ".active").glob("*.json"))  # a killed run cannot remove its own
    run_dir = json.loads(record.read_text())["run_dir"]
    assert [reaped.run_dir for reaped in reap_stale_runs(reports)] == [run_dir]
    assert list((reports / ".active").glob("*.json")) == []

    # a venue that outlived its harness (its parent-death signal lost): the next run's reaper stops it
    asyncio.run(_orphan_reaped(target, reports, harness.pid, harness_ticks))


def _wait_for_the_venue(reports: Path) -> int:
    """The PID of the venue a ``gameday run`` registered, once it printed READY (it serves)."""
    found: dict[str, int] = {}

    def serving() -> bool:
        for registry in (reports / ".active").glob("*.json"):
            try:
                record = json.loads(registry.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            for entry in record.get("processes", []):
                log = Path(record["run_dir"]) / "stack" / f"{PROCESS_NAME}.log"
                if entry["name"] == PROCESS_NAME and log.exists() and "READY" in log.read_text():
                    found["pid"] = int(entry["pid"])
                    return True
        return False

    wait_for(serving, 30, "the run's venue to serve")
    assert alive(found["pid"])
    return found["pid"]


async def _orphan_reaped(target: Path, reports: Path, dead_pid: int, dead_ticks: int | None) -> None:
    spec = load_target_file(target).venue.run
    assert spec is not None
    run_dir = RunDir(reports, "orphan", scratch_root=None)
    venue = RunVenue(spec, StackSettings(run_dir=run_dir, seed=1), admin_token="orphan-token")
    try:
        async with aiohttp.ClientSession() as session:
            await venue.start(session)
        assert venue.process is not None
        pid = venue.process.pid
        registry = run_dir.registry_path
        record = json.loads(registry.read_text())
        record["harness"] = {"pid": dead_pid, "start_ticks": dead_ticks}  # as if the harness were killed
        registry.write_text(json.dumps(record))

        [reaped] = reap_stale_runs(reports)

        assert reaped.killed == (f"{PROCESS_NAME}({pid})",)
        wait_for(lambda: not alive(pid), 5, "the orphaned venue to be stopped")
        assert _venues_running(run_dir.stack / "venue.json") == []
    finally:
        await venue.stop()
    assert list((reports / ".active").glob("*.json")) == []
    assert os.path.exists(run_dir.path / "ledger.jsonl")
