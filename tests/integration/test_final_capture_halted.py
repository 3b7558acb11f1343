"""The final capture with the venue's matching stopped (issue 21), on a real run: it reads a venue
that no longer fills, so its bracket is stable at once, the database wait ends on the OMS's
store-drained signal, and the run grades as it does with matching left running (a venue without
the switch, as every run was captured before it)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from gameday.history import HISTORY_FILE, Op, OpKind, read_history
from gameday.runner import RunOutcome, RunSettings, run_scenario
from gameday.scenario import load_scenario
from gameday.venue_reads import MatchingState, VenueReader
from gameday.verdict import Verdict

SCENARIO = Path(__file__).parents[2] / "scenarios" / "failover-primary-crash.yaml"

pytestmark = pytest.mark.integration


def _op(ops: list[Op], kind: OpKind, f: str, phase: str | None = None) -> Op:
    return next(op for op in ops if op.kind == kind and op.f == f
                and (phase is None or op.value.get("phase") == phase))


async def _run(tmp_path: Path) -> tuple[RunOutcome, list[Op]]:
    outcome = await run_scenario(load_scenario(SCENARIO), SCENARIO, RunSettings(reports_root=tmp_path))
    assert outcome.error is None
    return outcome, read_history(outcome.run_dir / HISTORY_FILE)


async def test_a_halted_venue_is_captured_at_once_and_grades_as_a_running_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    halted, halted_ops = await _run(tmp_path / "halted")

    capture = _op(halted_ops, OpKind.RUN, "phase", "capture")
    assert capture.value["venue_matching"] == MatchingState.STOPPED
    final = _op(halted_ops, OpKind.PROBE, "final-state")
    assert final.value["stable"] is True
    snapshot = _op(halted_ops, OpKind.LEDGER, "snapshot")
    assert final.t_ns - capture.t_ns < 3e9  # one bracket: 0.25 s quiet and the reads, not ten retries
    assert snapshot.value["fills"], "the workload filled nothing: nothing was compared"
    database = _op(halted_ops, OpKind.PROBE, "database")
    assert database.value["settled_by"] in ("complete", "drained")

    @asynccontextmanager
    async def left_running(_reader: VenueReader) -> Any:
        yield MatchingState.UNSUPPORTED, "404 (a venue without the switch)"

    monkeypatch.setattr(VenueReader, "matching_stopped", left_running)
    running, running_ops = await _run(tmp_path / "running")
    not_stopped = _op(running_ops, OpKind.RUN, "phase", "capture")
    assert not_stopped.value["venue_matching"] == MatchingState.UNSUPPORTED

    verdicts = {e.name: e.verdict for e in halted.result.expectations}
    assert verdicts == {e.name: e.verdict for e in running.result.expectations}
    assert set(verdicts.values()) == {Verdict.PASS}, halted.result.model_dump_json(indent=1)
    assert (halted.run_dir / "report.html").is_file()
