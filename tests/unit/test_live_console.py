"""The live console: the exact lines it prints for hand-built ops, and the history observer hook."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from gameday.history import RUN_PHASE_F, History, Op, OpKind, OpType, RunPhase
from gameday.report.live import LiveConsole, Orders, describe, load_line, orders_line
from gameday.report.where_to_look import last_role_changes, offset, silent_since, stack_logs, where_to_look
from gameday.verdict import RunResult, Verdict
from tests.unit.history_builder import HistoryBuilder

T0 = 7_000_000_000_000  # the run's start op


def at(seconds: float) -> int:
    return T0 + round(seconds * 1e9)


class Run:
    """A history without a file, watched by a live console writing to a list of lines."""

    def __init__(self, sink: Console | None = None) -> None:
        self.lines: list[str] = []
        self.live = LiveConsole(self.lines.append if sink is None else sink)
        self.history = History(observers=(self.live.observe,))

    def add(self, kind: OpKind, type_: OpType, process: str, f: str, value: dict[str, Any] | None = None,
            *, s: float) -> Op:
        return self.history.append(kind, type_, process, f, value, t_ns=at(s))

    def start(self, s: float = 0.0) -> None:
        self.add(OpKind.RUN, OpType.INFO, "runner", "start", {"run_id": "r1", "scenario": "x"}, s=s)

    def phase(self, phase: RunPhase, *, s: float, **value: Any) -> None:
        self.add(OpKind.RUN, OpType.INFO, "runner", RUN_PHASE_F, {"phase": phase.value, **value}, s=s)

    def order(self, outcome: OpType, *, s: float) -> None:
        self.add(OpKind.CLIENT, OpType.INVOKE, "worker-0", "place", {"symbol": "BTC-USD"}, s=s - 0.001)
        self.add(OpKind.CLIENT, outcome, "worker-0", "place", {"instance": "oms-a"}, s=s)

    def role(self, instance: str, role: str, *, s: float, reason: str = "", epoch: int = 1) -> None:
        value = {"instance": instance, "role": role, "epoch": epoch, "reason": reason, "t_ns": at(s)}
        self.add(OpKind.SUT, OpType.INFO, "oms.roles", "roles", value, s=s + 0.01)  # received a little later


def test_a_fault_and_its_heal_print_with_their_offsets_and_targets() -> None:
    run = Run()
    run.start()
    run.add(OpKind.FAULT, OpType.INVOKE, "nemesis", "kill", {"fault_id": "f1-kill", "fault": "kill"}, s=6.0)
    run.add(OpKind.FAULT, OpType.OK, "nemesis", "kill",
            {"fault_id": "f1-kill", "fault": "kill", "target": "oms-primary", "signal": "SIGKILL"}, s=6.01)
    run.add(OpKind.FAULT, OpType.OK, "nemesis", "pause",
            {"fault_id": "f2-pause", "fault": "pause", "target": "oms-dr", "for_s": 2.5}, s=7.0)
    run.add(OpKind.FAULT, OpType.OK, "nemesis", "latency",
            {"fault_id": "lag", "fault": "latency", "proxy": "oms-venue", "toxic": "latency",
             "stream": "downstream", "for_s": 3}, s=8.0)
    run.add(OpKind.FAULT, OpType.OK, "nemesis", "heal", {"fault_id": "f2-pause", "fault": "pause",
                                                           "target": "oms-dr"}, s=9.5)
    run.add(OpKind.FAULT, OpType.FAIL, "nemesis", "heal",
            {"fault_id": "lag", "fault": "latency", "error": "HTTPError: 404"}, s=11.04)

    assert run.lines == [
        "    t+6.0s  fault f1-kill applied: kill oms-primary (SIGKILL)",
        "    t+7.0s  fault f2-pause applied: pause oms-dr for 2.5s",
        "    t+8.0s  fault lag applied: latency oms-venue (latency, downstream) for 3s",
        "    t+9.5s  fault f2-pause healed: pause oms-dr",
        "   t+11.0s  fault lag heal FAILED: HTTPError: 404",
    ]


def test_role_changes_and_decisions_print_once_each_and_heartbeats_do_not() -> None:
    run = Run()
    run.role("oms-b", "standby", s=-0.4, reason="started as standby", epoch=0)  # before the run's start
    run.start()
    failover = {"daemon": "failover", "detail": {"reason": "all vantages failed 3 consecutive checks",
                                                 "failures": [3], "vantages": ["a"]}}
    run.add(OpKind.SUT, OpType.INFO, "oms.failover", "failover",
            {**failover, "decision": "healthy", "heartbeat": True, "t_ns": at(1.0)}, s=1.0)
    run.add(OpKind.SUT, OpType.INFO, "oms.failover", "failover",
            {**failover, "decision": "promote", "heartbeat": False, "t_ns": at(4.2)}, s=4.25)
    run.role("oms-b", "active", s=4.8, reason="promoted (admin)", epoch=2)
    run.add(OpKind.SUT, OpType.INFO, "oms.positions", "positions", {"instance": "oms-b"}, s=4.9)

    assert run.lines == [
        "    t-0.4s  role: oms-b is standby (epoch 0; started as standby)",
        "    t+4.2s  failover: failover decided promote (all vantages failed 3 consecutive checks)",
        "    t+4.8s  role: oms-b is active (epoch 2; promoted (admin))",
    ]


def test_orders_are_counted_per_second_of_the_workload_with_what_is_left() -> None:
    run = Run()
    run.start()
    run.phase(RunPhase.WORKLOAD, s=0.0, starts_ns=at(0.2), duration_s=3.0, orders=150, faults=1, actions=0)
    for s in (0.3, 0.5):
        run.order(OpType.OK, s=s)
    run.order(OpType.FAIL, s=1.1)
    run.add(OpKind.PROBE, OpType.OK, "probe-health", "health", {"instances": {}}, s=2.5)  # closes 2 seconds
    run.order(OpType.INFO, s=2.9)
    run.order(OpType.OK, s=3.3)  # after the planned end: an order that was in flight
    run.phase(RunPhase.HEAL, s=3.5)
    run.order(OpType.OK, s=3.6)  # after the workload: not counted, nothing printed

    assert run.lines == [
        "    t+0.0s  workload: 150 orders over 3s; 1 fault(s), 0 action(s)",
        "    t+1.2s  workload 1/3s, 2s left: orders ok 2 / failed 1 per second",
        "    t+2.2s  workload 2/3s, 1s left: orders ok 0 / failed 0 per second",
        "    t+3.2s  workload 3/3s, done: orders ok 0 / failed 0 / unknown 1 per second",
        "    t+3.5s  workload 4/3s, finishing in-flight orders: orders ok 1 / failed 0 per second",
        "    t+3.5s  healing every fault still applied",
    ]


def test_the_settle_wait_says_what_it_waits_for_and_how_it_ended() -> None:
    run = Run()
    run.start()
    run.phase(RunPhase.SETTLE, s=20.0, timeout_s=15.0, instances=["oms-a", "oms-b"])
    run.phase(RunPhase.SETTLED, s=20.8, active="oms-b", waited_s=0.8)
    run.phase(RunPhase.SETTLED, s=36.0, active=None, waited_s=15.0)

    assert run.lines == [
        "   t+20.0s  settle: waiting up to 15s for an instance that is active and answers /health/deep "
        "(of oms-a, oms-b)",
        "   t+20.8s  settled: oms-b is active and deep-healthy after 0.8s",
        "   t+36.0s  settle timed out: no instance active and deep-healthy after 15s",
    ]


def test_the_final_capture_says_whether_the_venue_stopped_matching() -> None:
    run = Run()
    run.start()
    run.phase(RunPhase.CAPTURE, s=21.0, venue_matching="stopped")
    run.phase(RunPhase.CAPTURE, s=22.0, venue_matching="unsupported", detail="404 not found")

    assert run.lines == [
        "   t+21.0s  final capture: the venue's matching stopped",
        "   t+22.0s  final capture: the venue's matching not stopped (unsupported: 404 not found)",
    ]


def test_the_trade_probe_prints_only_when_its_outcome_changes() -> None:
    run = Run()
    run.start()
    on_a, on_b = {"instance": "oms-a"}, {"instance": "oms-b"}
    refused = {"error": "ClientConnectorError: refused"}
    for s, outcome, value in [(0.1, OpType.OK, on_a), (0.6, OpType.OK, on_a), (1.1, OpType.FAIL, refused),
                              (1.6, OpType.FAIL, refused), (2.1, OpType.OK, on_b)]:
        run.add(OpKind.PROBE, OpType.INVOKE, "probe-trade", "trade", {"symbol": "BTC-USD"}, s=s - 0.05)
        run.add(OpKind.PROBE, outcome, "probe-trade", "trade", value, s=s)

    assert run.lines == [
        "    t+0.1s  trade probe ok via oms-a",
        "    t+1.1s  trade probe failing: ClientConnectorError: refused",
        "    t+2.1s  trade probe ok again via oms-b",
    ]


def test_user_text_is_printed_literally_never_as_markup() -> None:
    buffer = io.StringIO()
    run = Run(Console(file=buffer, width=200, color_system=None))
    run.live.progress("run [correct #1] in /tmp/[/]")
    run.start()
    run.add(OpKind.FAULT, OpType.FAIL, "nemesis", "kill",
            {"fault_id": "[correct #1]", "fault": "kill", "error": "bad [/] value [bold]x :smile:"}, s=1.0)
    run.role("[/]", "[red]active", s=2.0, reason="[/]")

    assert buffer.getvalue().splitlines() == [
        "  run [correct #1] in /tmp/[/]",
        "    t+1.0s  fault [correct #1] kill FAILED: bad [/] value [bold]x :smile:",
        "    t+2.0s  role: [/] is [red]active (epoch 1; [/])",
    ]


def test_a_feed_switch_prints_and_the_feeds_other_events_do_not() -> None:
    history = History()
    switch = history.append(OpKind.SUT, OpType.INFO, "oms.feeds", "feeds", {
        "instance": "oms-primary", "selected": "B", "previous": "A", "switch": True,
        "reason": "A stale: no message for 1510.0 ms"})
    beat = history.append(OpKind.SUT, OpType.INFO, "oms.feeds", "feeds", {
        "instance": "oms-primary", "selected": "B", "previous": "B", "switch": False, "heartbeat": True})
    lost = history.append(OpKind.SUT, OpType.INFO, "oms.feeds", "feeds", {
        "instance": "oms-dr", "selected": None, "previous": "B", "switch": True, "reason": "no usable feed"})

    assert describe(switch) == "feeds: oms-primary switched A -> B (A stale: no message for 1510.0 ms)"
    assert describe(beat) is None
    assert describe(lost) == "feeds: oms-dr switched B -> none (no usable feed)"


def test_most_ops_say_nothing_on_their_own() -> None:
    history = History()
    quiet = [history.append(OpKind.CLIENT, OpType.OK, "worker-1", "place", {}),
             history.append(OpKind.FAULT, OpType.INVOKE, "nemesis", "kill", {"fault_id": "f"}),
             history.append(OpKind.SUT, OpType.INFO, "oms.fills", "fills", {"exec_id": "E1"}),
             history.append(OpKind.RUN, OpType.INFO, "runner", "end", {"status": "completed"})]

    assert [describe(op) for op in quiet] == [None, None, None, None]
    offsets = [offset(at(s), T0) for s in (-0.04, 0.04, -0.4, 12.34)]
    assert offsets == ["t+0.0s", "t+0.0s", "t-0.4s", "t+12.3s"]
    assert orders_line(5, 20.0, Orders(ok=48, failed=2)) == (
        "workload 5/20s, 15s left: orders ok 48 / failed 2 per second")


def test_an_observer_that_raises_never_breaks_recording_and_is_logged_once(
        caplog: pytest.LogCaptureFixture) -> None:
    seen: list[int] = []

    def broken(op: Op) -> None:
        raise RuntimeError("console gone")

    history = History(observers=(broken, lambda op: seen.append(op.index)))
    with caplog.at_level(logging.WARNING, logger="gameday.history"):
        for _ in range(3):
            history.append(OpKind.CLIENT, OpType.OK, "worker-0", "place", {})

    assert [op.index for op in history.ops] == [0, 1, 2]
    assert seen == [0, 1, 2]
    assert [record.getMessage() for record in caplog.records if "observer" in record.getMessage()] == [
        f"history observer {broken!r} failed on op 0; its later failures are not logged"]


def test_subscribe_and_unsubscribe_an_observer(tmp_path: Path) -> None:
    seen: list[str] = []
    history = History(tmp_path / "history.jsonl")
    unsubscribe = history.subscribe(lambda op: seen.append(op.f))
    history.append(OpKind.RUN, OpType.INFO, "runner", "start")
    unsubscribe()
    history.append(OpKind.RUN, OpType.INFO, "runner", "end")
    history.close()

    assert seen == ["start"]
    assert len((tmp_path / "history.jsonl").read_text().splitlines()) == 2


def _stack(tmp_path: Path, *names: str) -> Path:
    (tmp_path / "stack").mkdir()
    for name in names:
        (tmp_path / "stack" / name).write_text("log\n")
    (tmp_path / "stack" / "oms-a.json").write_text("{}")  # not a log
    return tmp_path


def test_where_to_look_names_each_instance_last_role_change_and_its_log(tmp_path: Path) -> None:
    run = Run()
    run.start()
    run.role("oms-a", "active", s=0.1, reason="promoted (startup)")
    run.role("oms-b", "standby", s=0.1, reason="started as standby")
    run.role("oms-b", "active", s=8.1, reason="promoted (admin)", epoch=2)
    run.role("oms-b", "active", s=9.0, reason="version 1.4.3", epoch=2)  # announced again: no change
    run.add(OpKind.PROBE, OpType.OK, "probe-health", "health", {"instances": {
        "oms-a": {"role": None}, "oms-b": {"role": "active"}, "oms-c": {"role": "standby"}}}, s=10.0)
    run.add(OpKind.PROBE, OpType.OK, "probe-health", "health", {"instances": {"oms-d": {}}}, s=10.5)
    run_dir = _stack(tmp_path, "oms-a.log", "exchange.log", "oms-b.log")

    ops = run.history.ops
    lines = where_to_look(Verdict.FAIL, last_role_changes(ops), silent_since(ops), stack_logs(run_dir), T0)

    stack = run_dir / "stack"
    assert lines == [
        "FAIL: each instance's last role change and its log",
        "  oms-a: t+0.1s active (promoted (startup)); no /role answer since t+10.0s; "
        f"log {stack / 'oms-a.log'}",
        f"  oms-b: t+8.1s active (promoted (admin)); log {stack / 'oms-b.log'}",
        "  oms-c: t+10.0s standby (health probe); log none named after it under stack/",
        "  oms-d: no role seen; no /role answer since t+10.5s; log none named after it under stack/",
        f"  other logs: {stack / 'exchange.log'}",
    ]


@pytest.mark.parametrize(("verdict", "printed"), [(Verdict.PASS, False), (Verdict.FAIL, True),
                                                   (Verdict.UNKNOWN, True)])
def test_finished_points_at_the_logs_only_on_a_fail_or_unknown(tmp_path: Path, verdict: Verdict,
                                                               printed: bool) -> None:
    run = Run()
    run.start()
    run.role("oms-a", "fenced", s=12.4, reason="lease lost")
    run_dir = _stack(tmp_path, "oms-a.log")
    run.lines.clear()

    run.live.finished(RunResult(run_id="r1", scenario="x", seed=1, verdict=verdict, expectations=()),
                      run.history.ops, run_dir)

    expected = [f"  {verdict.value.upper()}: each instance's last role change and its log",
                f"    oms-a: t+12.4s fenced (lease lost); log {run_dir / 'stack' / 'oms-a.log'}"]
    assert run.lines == (expected if printed else [])


def test_lines_of_a_run_that_never_started_are_released_when_it_finishes(tmp_path: Path) -> None:
    run = Run()
    run.role("oms-a", "active", s=-2.0, reason="promoted (startup)")
    run.add(OpKind.FAULT, OpType.OK, "nemesis", "kill",
            {"fault_id": "f1", "fault": "kill", "target": "oms-a"}, s=-1.5)
    assert run.lines == []  # held: their origin, the run's start op, is not known yet

    run.live.finished(RunResult(run_id=None, scenario="x", seed=1, verdict=Verdict.PASS, expectations=()),
                      run.history.ops, tmp_path)

    assert run.lines == ["    t+0.0s  role: oms-a is active (epoch 1; promoted (startup))",
                         "    t+0.5s  fault f1 applied: kill oms-a"]


def test_the_locust_load_prints_its_start_and_stop_not_its_seconds() -> None:
    history = HistoryBuilder()
    history.add(OpKind.LOAD, OpType.INFO, "locust", "start", {"users": 20, "host": "http://127.0.0.1:1"},
                at=1.0)
    history.add(OpKind.LOAD, OpType.OK, "locust", "stats", {"requests": 60}, at=2.0)
    history.add(OpKind.LOAD, OpType.INFO, "locust", "stop", {"requests": 900, "failures": 3, "p99_ms": 41},
                at=16.0)

    lines = [describe(op) for op in history.ops]

    assert lines == ["locust: 20 users against http://127.0.0.1:1", None,
                     "locust stopped: 900 requests, 3 failed, p99 41 ms"]
    assert load_line(history.ops[1]) is None
