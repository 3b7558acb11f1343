"""The ``postgres-primary-loss`` game day for real: the whole stack on loopback, the Postgres primary
SIGKILLed under load. Graded against the correct stack (passes) and against ``no-db-reconnect``
(fails on lost fills — and on write recovery, which never comes — and on nothing else).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.history import OpKind, read_history
from gameday.runner import HISTORY_FILE, RunOutcome, RunSettings, run_scenario
from gameday.scenario import load_scenario
from gameday.verdict import ExpectationResult, Verdict
from tests.integration.processes import alive
from trading_stack.config import Defect

SCENARIO = Path(__file__).parents[2] / "scenarios" / "postgres-primary-loss.yaml"
SERVICES = ["db-failover", "exchange", "failover", "nats", "oms-dr", "oms-primary", "postgres",
            "postgres-replica", "toxiproxy"]

pytestmark = pytest.mark.integration


def _results(outcome: RunOutcome) -> dict[str, ExpectationResult]:
    return {result.name: result for result in outcome.result.expectations}


def _assert_nothing_left(outcome: RunOutcome, reports_root: Path) -> None:
    start = next(op for op in read_history(outcome.run_dir / HISTORY_FILE)
                 if op.kind == OpKind.RUN and op.f == "start")
    services = start.value["services"]
    assert sorted(services) == SERVICES
    assert [name for name, service in services.items() if alive(service["pid"])] == []
    assert not (outcome.run_dir / "scratch").exists()
    assert list((reports_root / ".active").glob("*.json")) == []


async def test_postgres_primary_loss_passes_against_the_correct_stack(tmp_path: Path) -> None:
    outcome = await run_scenario(load_scenario(SCENARIO), SCENARIO, RunSettings(reports_root=tmp_path))

    assert outcome.error is None
    results = _results(outcome)
    verdicts = {name: result.verdict for name, result in results.items()}
    assert verdicts == dict.fromkeys(
        ("fills.lost", "db.write_recovery", "positions.mismatch_bps", "orders.ghost"), Verdict.PASS
    ), outcome.result.model_dump_json(indent=1)
    lost = results["fills.lost"].evidence
    assert lost["ledger_fills"] > 0
    assert lost["database_fills"] >= lost["ledger_fills"]
    recovery = results["db.write_recovery"].evidence
    assert recovery["fault"]["affected"] == ["postgres"]
    [promoted] = recovery["promoted"]
    assert 0 < promoted["after_s"] <= recovery["first_write_after"]["after_s"]
    _assert_nothing_left(outcome, tmp_path)


async def test_no_db_reconnect_fails_on_lost_fills(tmp_path: Path) -> None:
    settings = RunSettings(reports_root=tmp_path, extra_defects=(Defect.NO_DB_RECONNECT,))
    outcome = await run_scenario(load_scenario(SCENARIO), SCENARIO, settings)

    assert outcome.error is None
    results = _results(outcome)
    failed = sorted(name for name, result in results.items() if result.verdict is Verdict.FAIL)
    assert failed == ["db.write_recovery", "fills.lost"], outcome.result.model_dump_json(indent=1)
    assert outcome.result.exit_code == 1
    lost = results["fills.lost"].evidence
    assert lost["lost"], "a failing expectation names its evidence"
    assert set(lost["lost"][0]) >= {"exec_id", "order_id", "symbol", "t_ns", "after_s"}
    assert all(fill["after_s"] > -1.0 for fill in lost["lost"])  # lost from about the kill on
    assert results["db.write_recovery"].evidence["promoted"]  # the replica was promoted all the same
    _assert_nothing_left(outcome, tmp_path)
