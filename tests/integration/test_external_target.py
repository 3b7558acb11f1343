"""A stack that is already running, graded through a target file alone: the reference stack started by
a separate command (``python -m reference_target.serve``) reads the same verdicts as the embedded run,
correct and defective; and an embedded run against a shared, already-running Toxiproxy leaves none of
its proxies behind."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from gameday.runner import RunSettings, run_scenario
from gameday.scenario import load_scenario
from gameday.stack.external import admin_token_of
from gameday.target_file import load_target_file, scenario_gaps
from gameday.verdict import Verdict

ROOT = Path(__file__).parents[2]
SCENARIO = ROOT / "scenarios" / "failover-primary-crash.yaml"
READY_TIMEOUT_S = 60.0

pytestmark = pytest.mark.integration


async def _line_with(stream: asyncio.StreamReader, prefix: str, timeout_s: float) -> str:
    async with asyncio.timeout(timeout_s):
        while line := (await stream.readline()).decode():
            if line.startswith(prefix):
                return line.strip()
    raise AssertionError(f"the process ended before printing {prefix}")


@asynccontextmanager
async def _process(argv: list[str], ready_prefix: str) -> AsyncIterator[str]:
    process = await asyncio.create_subprocess_exec(*argv, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
                                                   start_new_session=True)
    try:
        assert process.stdout is not None
        yield await _line_with(process.stdout, ready_prefix, READY_TIMEOUT_S)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                os.killpg(process.pid, signal.SIGKILL)
                await process.wait()


def _served(tmp_path: Path, *defects: str) -> AbstractAsyncContextManager[str]:
    target = tmp_path / "staging.yaml"
    argv = [sys.executable, "-m", "reference_target.serve", "--target-file", str(target),
            "--reports", str(tmp_path / "served"), *(arg for d in defects for arg in ("--defect", d))]
    return _process(argv, "READY")


async def _graded_through(target_path: Path, reports: Path) -> dict[str, Verdict]:
    scenario = load_scenario(SCENARIO)
    target = load_target_file(target_path)
    assert scenario_gaps(target, scenario) == []
    outcome = await run_scenario(scenario, SCENARIO, RunSettings(
        reports_root=reports, target_file=target, admin_token=admin_token_of(target, {})))
    assert outcome.error is None
    return {e.name: e.verdict for e in outcome.result.expectations}


async def test_a_running_correct_stack_passes_through_its_target_file(tmp_path: Path) -> None:
    async with _served(tmp_path):
        served = load_target_file(tmp_path / "staging.yaml")
        assert served.venue.admin_token  # the venue requires the run's token: every ledger read sends it
        assert (tmp_path / "staging.yaml").stat().st_mode & 0o777 == 0o600
        verdicts = await _graded_through(tmp_path / "staging.yaml", tmp_path / "reports")
    assert verdicts == dict.fromkeys(verdicts, Verdict.PASS)
    assert set(verdicts) == {expectation.name for expectation in load_scenario(SCENARIO).expectations}


async def test_a_running_defective_stack_fails_for_the_named_reason(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIO)
    assert scenario.known_defect is not None
    async with _served(tmp_path, *scenario.known_defect.defects):
        verdicts = await _graded_through(tmp_path / "staging.yaml", tmp_path / "reports")
    failed = {name for name, verdict in verdicts.items() if verdict is Verdict.FAIL}
    assert set(scenario.known_defect.fails) <= failed, verdicts


async def _proxy_names(session: aiohttp.ClientSession, url: str) -> list[str]:
    async with session.get(f"{url}/proxies") as response:
        return sorted(await response.json())


async def test_an_embedded_run_leaves_no_proxy_on_a_shared_toxiproxy(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "gameday.proxy", "--host", "127.0.0.1", "--port", "0"]
    async with _process(argv, "READY") as ready, aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{ready.split('api=')[1]}"
        async with session.post(f"{url}/proxies", json={"name": "someone-elses", "listen": "127.0.0.1:0",
                                                         "upstream": "127.0.0.1:9"}) as response:
            assert response.status == 201
        scenario = load_scenario(SCENARIO)
        settings = RunSettings(reports_root=tmp_path, toxiproxy_url=url)
        outcome = await run_scenario(scenario, SCENARIO, settings)
        assert outcome.error is None
        assert outcome.result.exit_code == 0
        assert await _proxy_names(session, url) == ["someone-elses"]


def test_a_target_file_that_cannot_carry_out_a_scenario_is_refused_before_anything_runs(
        tmp_path: Path) -> None:
    target = tmp_path / "t.yaml"
    target.write_text("name: t\noms: {instances: {oms-primary: 'http://127.0.0.1:9'}}\n"
                      "venue: {admin_url: 'http://127.0.0.1:9'}\n")
    cli = "import sys; from gameday.cli import main; sys.exit(main())"
    result = subprocess.run([sys.executable, "-c", cli, "run", "--target", str(target),
                             "--reports", str(tmp_path / "r"), str(SCENARIO)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
                            env={**os.environ, "COLUMNS": "400"})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "scenario kills oms-primary (fault f1-kill)" in result.stdout
    assert "no way to kill it (services.oms-primary)" in result.stdout
    assert not (tmp_path / "r").exists()

