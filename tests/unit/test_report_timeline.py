from pathlib import Path

from gameday.history import OpKind, OpType
from gameday.report.timeline import (
    Lane,
    build_timeline,
)
from tests.unit.deploy_history import phase, run_start
from tests.unit.history_builder import HistoryBuilder


def _deploy_run() -> HistoryBuilder:
    history = run_start(HistoryBuilder())
    history.action("deploy", {"version": "1.4.3"}, at=2.0)
    phase(history, "launching", "deploy-requested", at=2.0)
    phase(history, "verifying", "launched", at=2.5)
    history.fault("latency", at=4.0, proxy="oms-green->nats")
    history.add(OpKind.FAULT, OpType.OK, "nemesis", "heal", {"fault_id": "latency-0"}, at=9.0)
    phase(history, "cutting-over", "cutover-started", at=10.0)
    phase(history, "live", "cutover-done", at=10.4)
    phase(history, "rolling-back", "rejects-exceeded", at=14.0)
    phase(history, "rolled-back", "rollback-done", at=15.0)
    return history.run_end(at=20.0)


def test_the_deploy_phases_are_a_lane_beside_faults_and_actions() -> None:
    timeline = build_timeline(_deploy_run().ops)

    deploy = [(span.label, span.start_s, span.end_s) for span in timeline.lane(Lane.DEPLOY)]
    assert deploy == [("launch", 2.0, 2.5), ("shadow / verify", 2.5, 10.0), ("cutover", 10.0, 10.4),
                      ("rollback window", 10.4, 14.0), ("rollback", 14.0, 15.0), ("rolled-back", 15.0, 15.0)]
    [fault] = timeline.lane(Lane.FAULTS)
    assert (fault.label, fault.start_s, fault.end_s, fault.open_ended) == (
        "latency oms-green->nats", 4.001, 9.0, False)
    [action] = timeline.lane(Lane.ACTIONS)
    assert (action.label, action.start_s, action.outcome) == ("deploy", 2.0, "ok")
    assert timeline.origin["from"] == "run start"


def test_a_phase_still_running_at_the_end_is_open_ended() -> None:
    history = run_start(HistoryBuilder())
    phase(history, "verifying", "launched", at=2.0)
    history.run_end(at=8.0)

    [span] = build_timeline(history.ops).lane(Lane.DEPLOY)

    assert (span.end_s, span.open_ended) == (8.0, True)


def test_a_malformed_phase_event_is_left_out(tmp_path: Path) -> None:
    history = run_start(HistoryBuilder())
    history.add(OpKind.SUT, OpType.INFO, "deploy.phases", "phases", {"phase": "live"}, at=1.0)

    assert build_timeline(history.ops).spans == ()
