"""An OMS whose HTTP API is not the contract's, graded without changing it: Acme (examples/acme_oms), the
cold-standby OMS's desk behind a v2 API of other routes, shapes, status codes and auth, reached through
its adapter (examples/acme_oms/adapter.py) named in the target file.

``gameday contract check`` through the adapter conforms on every check, the trading round trips
included; the same stack without the adapter shows the gaps (no run could start). A short game day
through the adapter grades every expectation on evidence the adapter translated."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from gameday.history import OpKind, OpType, read_history
from gameday.runner import RunSettings, run_scenario
from gameday.scenario import load_scenario
from gameday.target_file import load_target_file, scenario_gaps
from gameday.verdict import Verdict
from gameday.workload import reference_price
from tests.integration.exchange_helpers import MOCK_EXCHANGE, exchange_process

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ACME = ROOT / "examples" / "acme_oms"
DAY = ACME / "scenarios" / "acme-day.yaml"
ACCOUNT, API_KEY = "desk", "desk-key"
KEY_ENV, ADMIN_KEY = "ACME_TEST_ADMIN_KEY", "acme-admin-k3y"
READY_TIMEOUT_S = 20.0
CLI = "import sys; from gameday.cli import main; main()"  # the real command line


@dataclass(frozen=True)
class AcmeStack:
    adapted: Path
    """A target file naming the adapter (by a path relative to the file)."""
    plain: Path
    """The same stack, no adapter."""


@asynccontextmanager
async def _acme(argv: list[str], log: Path) -> AsyncIterator[str]:
    """The Acme OMS until the block ends; its base URL once it printed READY."""
    with log.open("ab") as sink:
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=sink,
            env={**os.environ, "ACME_ADMIN_KEY": ADMIN_KEY})
    try:
        assert process.stdout is not None
        async with asyncio.timeout(READY_TIMEOUT_S):
            while not (line := (await process.stdout.readline()).decode()).startswith("READY"):
                assert line, f"the Acme OMS exited before READY; see {log}"
        yield f"http://127.0.0.1:{line.split('=')[1].strip()}"
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


@asynccontextmanager
async def acme_stack(tmp_path: Path, symbols: list[str]) -> AsyncIterator[AcmeStack]:
    venue_argv = [*MOCK_EXCHANGE, "--fix-port", "0", "--admin-port", "0", "--ws-port", "0",
                  "--ws-account", f"{ACCOUNT}:{API_KEY}", "--client-comp-id", "UNUSED", "--seed", "5",
                  "--ledger", str(tmp_path / "venue.jsonl"), "--log-level", "WARNING",
                  *(arg for symbol in symbols
                    for arg in ("--symbol", f"{symbol}:{reference_price(symbol):g}"))]
    async with AsyncExitStack() as stack:
        venue = await stack.enter_async_context(exchange_process(venue_argv, tmp_path / "venue.log"))
        url = await stack.enter_async_context(_acme(
            [sys.executable, str(ACME / "oms.py"), "--instance", "oms-primary", "--http-port", "0",
             "--venue-ws", f"ws://127.0.0.1:{venue.ports['ws']}/", "--account", ACCOUNT, "--api-key", API_KEY,
             "--state-dir", str(tmp_path / "state")], tmp_path / "acme.log"))
        files = tmp_path / "targets"
        files.mkdir()
        plain: dict[str, Any] = {
            "name": "acme",
            "oms": {"instances": {"oms-primary": url}, "admin_token_env": KEY_ENV},
            "venue": {"admin_url": f"http://127.0.0.1:{venue.ports['admin']}"},
        }
        adapter = {"module": os.path.relpath(ACME / "adapter.py", files), "class": "AcmeAdapter",
                   "options": {"key_header": "X-Api-Key"}}
        adapted = {**plain, "oms": {**plain["oms"], "adapter": adapter}}
        (files / "plain.yaml").write_text(yaml.safe_dump(plain, sort_keys=False))
        (files / "adapted.yaml").write_text(yaml.safe_dump(adapted, sort_keys=False))
        yield AcmeStack(files / "adapted.yaml", files / "plain.yaml")


async def _check(target: Path, *flags: str) -> tuple[int, dict[str, Any]]:
    """``gameday contract check --json`` as a user runs it, from another directory than the target's."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLI, "contract", "check", "--target", str(target), "--json", *flags, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, KEY_ENV: ADMIN_KEY})
    output, errors = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    assert not errors, errors.decode()
    return process.returncode, json.loads(output)


def _outcomes(report: dict[str, Any], scope: str) -> dict[str, str]:
    return {entry["check"]: entry["outcome"] for entry in report["results"][scope]}


async def test_the_contract_check_through_the_adapter_conforms_and_without_it_shows_the_gaps(
        tmp_path: Path) -> None:
    async with acme_stack(tmp_path, ["BTC-USD"]) as stack:
        adapted_code, adapted = await _check(stack.adapted, "--trade")
        plain_code, plain = await _check(stack.plain)

    assert adapted_code == 0, adapted["gaps"]
    assert adapted["conforms"] is True
    assert adapted["adapter"] == "AcmeAdapter"
    checks = _outcomes(adapted, "oms-primary")
    # one instance: no other to refuse orders
    assert {check for check, outcome in checks.items() if outcome != "pass"} == {"orders.refused"}
    for check in ("role.name", "health.deep", "positions", "orders.open", "orders.bad_json",
                  "admin.unauthorized", "admin.token", "orders.place", "orders.cancel", "ledger.order_id",
                  "ledger.attributed", "ledger.canceled", "positions.round_trip"):
        assert checks[check] == "pass", check
    assert _outcomes(adapted, "stack") == {"stack.active": "pass", "venue.ledger": "pass"}

    assert plain_code == 1
    assert plain["adapter"] is None
    assert plain["run_blocked_by"] == ["stack.active"]
    assert {gap["check"] for gap in plain["gaps"]} == {
        "stack.active", "health", "health.deep", "role", "positions", "orders.open", "admin.unauthorized",
        "admin.token"}
    role = next(entry for entry in plain["results"]["oms-primary"] if entry["check"] == "role")
    assert role["detail"].startswith("expected 200, got HTTP 404")


async def test_a_game_day_through_the_adapter_is_graded_on_what_it_translated(tmp_path: Path) -> None:
    symbols = yaml.safe_load(DAY.read_text())["workload"]["symbols"]
    async with acme_stack(tmp_path, symbols) as stack:
        target = load_target_file(stack.adapted)
        scenario = load_scenario(DAY)
        assert scenario_gaps(target, scenario) == []
        outcome = await run_scenario(scenario, DAY, RunSettings(
            reports_root=tmp_path / "reports", target_file=target, admin_token=ADMIN_KEY))

    assert outcome.error is None
    verdicts = {e.name: (e.verdict, e.note) for e in outcome.result.expectations}
    assert all(verdict is Verdict.PASS for verdict, _ in verdicts.values()), verdicts
    assert outcome.result.exit_code == 0
    history = read_history(outcome.run_dir / "history.jsonl")
    start = next(op for op in history if op.kind == OpKind.RUN and op.f == "start")
    assert start.value["target"]["oms_adapter"] == "AcmeAdapter"
    samples = [op.value["instances"]["oms-primary"] for op in history if op.f == "health"]
    assert samples
    assert all(sample == {"role": "active", "deep_ok": True} for sample in samples)  # from /v2/node
    limit = next(op for op in history if op.kind == OpKind.ACTION and op.f == "risk-limit"
                 and op.type != OpType.INVOKE)
    assert limit.type is OpType.OK, limit.value  # PUT /v2/limits with the X-Api-Key
    refused = [op.value for op in history if op.kind == OpKind.CLIENT and op.type is OpType.FAIL]
    assert {value["status"] for value in refused} == {422}  # Acme's refusal, its envelope unwrapped
    assert "LIMIT" in {value["code"] for value in refused}  # the limit the operator set through the adapter
    placed = [op.value["order"] for op in history if op.kind == OpKind.CLIENT and op.type is OpType.OK]
    assert placed
    assert all(order["side"] in ("buy", "sell") and order["instance"] == "oms-primary"
               and isinstance(order["cum_qty"], int) for order in placed)  # contract Orders, not Acme's
    final = next(op for op in history if op.f == "final-state")
    assert final.value["active"] == "oms-primary"
    assert len(final.value["instances"]["oms-primary"]["open_orders"]) >= 3  # the resting orders, listed
