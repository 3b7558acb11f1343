"""``gameday contract check`` against the real reference stack, started by a separate command
(``python -m reference_target.serve``) and reached through its target file alone: every check conforms,
the order round trip and the position round trip included, and the DR refuses orders with 503."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from gameday.contract.checks import Outcome
from gameday.contract.instance import AdminToken
from gameday.contract.orders import ROUND_TRIP
from gameday.contract.report import ContractReport
from gameday.contract.run import CheckOptions, check_contract
from gameday.stack.external import admin_token_of, venue_admin_token_of
from gameday.target_file import load_target_file

ROOT = Path(__file__).parents[2]
READY_TIMEOUT_S = 90.0
CLI = "import sys; from gameday.cli import main; main()"  # the real command line

pytestmark = pytest.mark.integration


@asynccontextmanager
async def _served(tmp_path: Path) -> AsyncIterator[Path]:
    """The reference stack, until the block ends; yields its target file once it printed READY."""
    target = tmp_path / "staging.yaml"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "reference_target.serve", "--target-file", str(target),
        "--reports", str(tmp_path / "served"), cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        start_new_session=True)
    try:
        assert process.stdout is not None
        async with asyncio.timeout(READY_TIMEOUT_S):
            while not (line := (await process.stdout.readline()).decode()).startswith("READY"):
                assert line, "the stack ended before printing READY"
        yield target
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                os.killpg(process.pid, signal.SIGKILL)
                await process.wait()


async def _cli(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLI, *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, output.decode()


def _outcomes(report: ContractReport, scope: str) -> dict[str, Outcome]:
    return {result.check_id: result.outcome for result in report.of(scope)}


async def test_the_reference_stack_conforms_on_every_check(tmp_path: Path) -> None:
    async with _served(tmp_path) as target_path:
        target = load_target_file(target_path)
        admin = AdminToken(admin_token_of(target, {}))
        report = await check_contract(target, CheckOptions(trade=True), admin,
                                      venue_token=venue_admin_token_of(target, {}))
        code, output = await _cli("contract", "check", "--target", str(target_path), "--json")

    failures = [result for result in report.results if result.outcome is Outcome.FAIL]
    assert failures == []
    assert list(report.instances) == ["oms-primary", "oms-dr"]
    assert _outcomes(report, "stack") == {"stack.active": Outcome.PASS, "venue.ledger": Outcome.PASS}
    primary = _outcomes(report, "oms-primary")
    assert {check for check, outcome in primary.items() if outcome is not Outcome.PASS} == {"orders.refused"}
    assert set(ROUND_TRIP) | {"positions.round_trip", "admin.token"} <= set(primary)
    dr = _outcomes(report, "oms-dr")
    assert {check for check, outcome in dr.items() if outcome is Outcome.PASS} == {
        "health", "health.deep", "role", "role.name", "positions", "orders.open", "orders.bad_json",
        "admin.unauthorized", "admin.token", "orders.refused"}
    refused = next(result for result in report.of("oms-dr") if result.check_id == "orders.refused")
    assert refused.detail.startswith("503 ")
    assert '"not active"' in refused.detail

    assert code == 0, output
    data = json.loads(output)
    assert data["conforms"] is True
    assert data["gaps"] == []
    assert data["exit_code"] == 0
    skipped_trade = next(entry for entry in data["results"]["oms-primary"]
                         if entry["check"] == "positions.round_trip")
    assert skipped_trade["outcome"] == "skipped"
