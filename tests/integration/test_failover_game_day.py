"""The first game day, for real: NATS, Postgres, the venue, two OMS instances, the failover daemon
and the fault proxy as processes on loopback. Graded against the correct stack and against the
defect that must make it fail — for the right reason, and only that one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.history import OpKind, read_history
from gameday.runner import HISTORY_FILE, RunOutcome, RunSettings, analyze_run, run_scenario
from gameday.scenario import load_scenario
from gameday.scenario.presets import StackPreset, topology
from gameday.verdict import Verdict
from tests.integration.processes import alive

SCENARIO = Path(__file__).parents[2] / "scenarios" / "failover-primary-crash.yaml"

pytestmark = pytest.mark.integration




def _verdicts(outcome: RunOutcome) -> dict[str, Verdict]:
    return {e.name: e.verdict for e in outcome.result.expectations}


def _assert_nothing_left(outcome: RunOutcome, reports_root: Path) -> None:
    start = next(
        op for op in read_history(outcome.run_dir / HISTORY_FILE) if op.kind == OpKind.RUN and op.f == "start"
    )
    pids = [service["pid"] for service in start.value["services"].values()]
    assert len(pids) == len(topology(StackPreset.ACTIVE_PASSIVE).services)
    assert [pid for pid in pids if alive(pid)] == []
    assert not (outcome.run_dir / "scratch").exists()
    assert list((reports_root / ".active").glob("*.json")) == []


async def test_primary_crash_passes_against_the_correct_stack(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIO)
    outcome = await run_scenario(scenario, SCENARIO, RunSettings(reports_root=tmp_path))

    assert outcome.error is None
    assert _verdicts(outcome) == {
        "rto.failover": Verdict.PASS,
        "positions.mismatch_bps": Verdict.PASS,
        "orders.ghost": Verdict.PASS,
        "writers.concurrent_active": Verdict.PASS,
        "trading.available_at_end": Verdict.PASS,
        "orders.sent_without_lease": Verdict.PASS,
        "fills.lost": Verdict.PASS,
    }, outcome.result.model_dump_json(indent=1)
    rto = next(e for e in outcome.result.expectations if e.name == "rto.failover")
    assert rto.evidence["recovered_instance"] == "oms-dr"
    for name in ("history.jsonl", "ledger.jsonl", "results.json", "junit.xml", "scenario.yaml", "run.json"):
        assert (outcome.run_dir / name).is_file(), name
    _assert_nothing_left(outcome, tmp_path)

    regraded = analyze_run(outcome.run_dir)
    assert [e.verdict for e in regraded.expectations] == [e.verdict for e in outcome.result.expectations]
