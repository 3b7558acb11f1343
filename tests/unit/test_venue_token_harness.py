"""The harness sends the venue's admin token on every admin call, and writes it nowhere it records."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from gameday.contract.checks import STACK, Outcome
from gameday.contract.run import CheckOptions, check_contract
from gameday.errors import StackError
from gameday.history import History, OpKind, OpType, read_history
from gameday.probes import capture_final_state
from gameday.scenario.faults import ExchangeFaultKind
from gameday.scenario.presets import StackPreset
from gameday.stack.external import ExternalStack
from gameday.stack.rundir import RunDir
from gameday.stack.settings import StackSettings
from gameday.stack.venue_faults import heal_exchange_fault, put_exchange_fault
from gameday.target_file import TargetFile
from mock_exchange.config import VenueConfig
from mock_exchange.venue import Venue
from reference_target.compose import compose_target

TOKEN = "per-run-secret_Zx81"


@pytest.fixture
async def venue_url(tmp_path: Path) -> AsyncIterator[str]:
    config = VenueConfig(fix_port=0, admin_port=0, ledger_path=tmp_path / "ledger.jsonl", admin_token=TOKEN)
    async with Venue(config) as venue:
        yield f"http://127.0.0.1:{venue.admin_port}"


def _closed_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


async def _final_ledger(tmp_path: Path, venue_url: str,
                        token: str | None) -> tuple[OpType, dict[str, object]]:
    history = History(tmp_path / "history.jsonl")
    async with aiohttp.ClientSession() as session:
        await capture_final_state(session, {}, venue_url, history, quiet_s=0.01, settle_timeout_s=0.2,
                                  venue_admin_token=token)
    history.close()
    assert TOKEN not in (tmp_path / "history.jsonl").read_text()
    [snapshot] = [op for op in read_history(tmp_path / "history.jsonl") if op.kind == OpKind.LEDGER]
    return snapshot.type, snapshot.value


async def test_the_final_capture_reads_the_ledger_with_the_token(tmp_path: Path, venue_url: str) -> None:
    kind, value = await _final_ledger(tmp_path, venue_url, TOKEN)
    assert kind == OpType.OK
    assert value["orders"] == []
    assert "now_ns" in value


async def test_a_refused_ledger_read_is_a_failed_snapshot_not_an_empty_ledger(tmp_path: Path,
                                                                             venue_url: str) -> None:
    kind, value = await _final_ledger(tmp_path, venue_url, "not-the-token")
    assert kind == OpType.FAIL
    assert value["status"] == 401
    assert value["error"] == "wrong admin token"


async def test_exchange_faults_carry_the_token(venue_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        halt = {"symbols": ["BTC-USD"]}
        with pytest.raises(StackError, match="401"):
            await put_exchange_fault(session, venue_url, ExchangeFaultKind.HALT, halt)
        stored = await put_exchange_fault(session, venue_url, ExchangeFaultKind.HALT, halt, token=TOKEN)
        assert stored["symbols"] == ["BTC-USD"]
        with pytest.raises(StackError, match="401"):
            await heal_exchange_fault(session, venue_url, ExchangeFaultKind.HALT)
        await heal_exchange_fault(session, venue_url, ExchangeFaultKind.HALT, token=TOKEN)
        async with session.get(f"{venue_url}/faults", headers={"Authorization": f"Bearer {TOKEN}"}) as answer:
            assert await answer.json() == {"faults": []}


@pytest.mark.parametrize(("token", "outcome"), [(TOKEN, Outcome.PASS), (None, Outcome.FAIL)])
async def test_the_contract_check_reads_the_ledger_with_the_target_files_token(
        venue_url: str, token: str | None, outcome: Outcome) -> None:
    target = TargetFile.model_validate({"name": "t", "oms": {"instances": {"oms-primary": _closed_url()}},
                                        "venue": {"admin_url": venue_url}})
    report = await check_contract(target, CheckOptions(timeout_s=0.5), venue_token=token)
    [ledger] = [result for result in report.of(STACK) if result.check_id == "venue.ledger"]
    assert ledger.outcome is outcome
    assert outcome is Outcome.PASS or "401" in ledger.detail
    assert TOKEN not in str(report.as_dict())


def _external(tmp_path: Path, venue: dict[str, str], environ: dict[str, str]) -> ExternalStack:
    target = TargetFile.model_validate({"name": "t", "oms": {"instances": {"oms-primary": _closed_url()}},
                                        "venue": {"admin_url": "http://127.0.0.1:9/", **venue}})
    return ExternalStack(target, StackSettings(run_dir=RunDir(tmp_path, "s"), seed=1), environ=environ)


def test_an_attached_stack_takes_the_venue_token_from_the_target_file(tmp_path: Path) -> None:
    assert _external(tmp_path, {}, {}).endpoints.venue_admin_token is None
    literal = _external(tmp_path, {"admin_token": TOKEN}, {}).endpoints
    assert literal.venue_admin_token == TOKEN
    assert TOKEN not in repr(literal)
    from_env = _external(tmp_path, {"admin_token": "literal", "admin_token_env": "VENUE_TOKEN"},
                         {"VENUE_TOKEN": TOKEN})
    assert from_env.endpoints.venue_admin_token == TOKEN
    with pytest.raises(StackError, match=r"VENUE_TOKEN \(venue.admin_token_env\) is not set"):
        _external(tmp_path, {"admin_token_env": "VENUE_TOKEN"}, {})


def test_the_compose_target_carries_the_runs_token_to_the_venue() -> None:
    target = compose_target(StackPreset.ACTIVE_PASSIVE, "gd-x", 150, TOKEN)
    assert target.venue.admin_token == TOKEN
    assert target.oms.admin_token == TOKEN
