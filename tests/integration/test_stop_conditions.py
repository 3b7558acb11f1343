"""Stop lines for real: a primary crash with no promotion stops the run early, heals, runs the safety
steps and grades it aborted; the same scenario against the correct stack fails over and runs to its end.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gameday.history import OpKind, OpType, read_history
from gameday.runner import HISTORY_FILE, RunSettings, run_scenario
from gameday.scenario import load_scenario
from gameday.stop import STOP_F
from gameday.verdict import EXIT_ABORTED, RunStatus
from tests.integration.processes import alive

SCENARIO = Path(__file__).parent / "scenarios" / "stop-no-active-instance.yaml"
NS = 1_000_000_000

pytestmark = pytest.mark.integration


def _pids(run_dir: Path) -> list[int]:
    ops = read_history(run_dir / HISTORY_FILE)
    start = next(op for op in ops if op.kind == OpKind.RUN and op.f == "start")
    return [service["pid"] for service in start.value["services"].values()]


async def test_no_active_instance_stops_the_run_heals_and_runs_the_safety_steps(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIO)
    settings = RunSettings(reports_root=tmp_path, extra_defects=("no-promotion",), settle_timeout_s=3.0)

    outcome = await run_scenario(scenario, SCENARIO, settings)

    ops = read_history(outcome.run_dir / HISTORY_FILE)
    workload = next(op for op in ops if op.kind == OpKind.RUN and op.value.get("phase") == "workload")
    [stop] = [op for op in ops if op.kind == OpKind.RUN and op.f == STOP_F]
    stopped_after_s = (stop.t_ns - workload.value["starts_ns"]) / NS
    # killed at 3s, then 4s without an active instance; the workload runs 30s
    assert 7.0 <= stopped_after_s <= 12.0, stopped_after_s
    assert stop.value["condition"] == "no_active_for"
    assert stop.value["observed"] >= 4.0
    # the timeline was aborted: no order was sent once the stop was recorded
    assert not [op for op in ops
                if op.kind == OpKind.CLIENT and op.type == OpType.INVOKE and op.t_ns > stop.t_ns]
    heal = next(op for op in ops if op.kind == OpKind.RUN and op.value.get("phase") == "heal")
    assert heal.t_ns >= stop.t_ns
    # the safety steps ran after the heal, in order; with no instance active each is recorded failed
    safety = [(op.f, op.type) for op in ops if op.kind == OpKind.ACTION and op.index > heal.index]
    assert safety == [("cancel-all", OpType.INVOKE), ("cancel-all", OpType.FAIL),
                      ("flatten", OpType.INVOKE), ("flatten", OpType.FAIL)]
    assert "no active OMS instance" in next(op for op in ops if op.f == "flatten" and op.type == OpType.FAIL
                                            ).value["error"]
    # graded, and aborted with the reason
    result = outcome.result
    assert result.run_status is RunStatus.ABORTED
    assert result.exit_code == EXIT_ABORTED
    assert result.abort_reason == stop.value["reason"] == outcome.error
    assert (result.abort_reason or "").startswith("stopped: no_active_for (")
    assert [e.name for e in result.expectations] == ["rto.failover", "trading.available_at_end"]
    error = ET.parse(outcome.run_dir / "junit.xml").getroot().find(".//error")
    assert error is not None
    assert "stopped: no_active_for" in (error.get("message") or "")
    assert any(op.kind == OpKind.PROBE and op.f == "final-state" for op in ops)
    assert [pid for pid in _pids(outcome.run_dir) if alive(pid)] == []


async def test_the_stop_does_not_fire_when_the_dr_takes_over(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIO)

    outcome = await run_scenario(scenario, SCENARIO, RunSettings(reports_root=tmp_path))

    ops = read_history(outcome.run_dir / HISTORY_FILE)
    assert not [op for op in ops if op.kind == OpKind.RUN and op.f == STOP_F]
    assert not [op for op in ops if op.kind == OpKind.ACTION]
    assert outcome.error is None
    assert outcome.result.run_status is RunStatus.COMPLETED
    assert outcome.result.exit_code == 0, outcome.result.model_dump_json(indent=1)
    assert [pid for pid in _pids(outcome.run_dir) if alive(pid)] == []
