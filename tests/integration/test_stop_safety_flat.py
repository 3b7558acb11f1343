"""A stop line on the stack's own metrics, for real: a stack whose breaker does nothing runs away,
the harness stops the game day on the scraped P&L, and its safety steps leave the venue's ledger flat
with no order open (the catalog's stop-on-runaway-loss against breaker-disabled)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.history import OpKind, OpType, read_history
from gameday.runner import HISTORY_FILE, RunSettings, run_scenario
from gameday.scenario import load_scenario
from gameday.stop import STOP_F
from gameday.verdict import RunStatus, Verdict

SCENARIO = Path(__file__).parents[2] / "scenarios" / "stop-on-runaway-loss.yaml"

pytestmark = pytest.mark.integration


async def test_a_runaway_loss_is_stopped_on_the_metric_and_the_safety_steps_leave_the_book_flat(
        tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIO)
    settings = RunSettings(reports_root=tmp_path, extra_defects=("breaker-disabled",))

    outcome = await run_scenario(scenario, SCENARIO, settings)

    ops = read_history(outcome.run_dir / HISTORY_FILE)
    [stop] = [op for op in ops if op.kind == OpKind.RUN and op.f == STOP_F]
    assert stop.value["condition"] == "metric"
    scrapes = [op for op in ops if op.kind == OpKind.METRICS and op.t_ns < stop.t_ns]
    assert scrapes, "the stop line read scraped metrics"
    until_flat = [op for op in ops
                  if op.kind == OpKind.ACTION and op.f == "until-flat" and op.type != OpType.INVOKE]
    assert [op.type for op in until_flat] == [OpType.OK]
    assert until_flat[0].value["held"] == {}
    result = outcome.result
    assert result.run_status is RunStatus.ABORTED
    verdicts = {case.name: case.verdict for case in result.expectations}
    assert verdicts == {"run.stop_lines_crossed": Verdict.FAIL,
                        "ledger.gross_position_at_end": Verdict.PASS,
                        "ledger.open_orders_at_end": Verdict.PASS}
