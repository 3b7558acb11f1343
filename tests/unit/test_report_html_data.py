"""The readable report's data (ReportData): a pure function of a history, tested without drawing.

``failover_run`` and ``deploy_run`` are whole hand-made runs the page, layout and browser tests
reuse: a kill with a failover to the DR, a partition with its heal and a fault that failed to
apply; a blue-green deploy whose deployer acts five times within 0.2 s.
"""

from __future__ import annotations

from typing import Any

import pytest

from gameday.history import Op, OpKind, OpType
from gameday.report.data import LaneKind, ReportData, build_report_data
from gameday.scenario import Expectation
from gameday.verdict import ExpectationResult, grade_expectation
from tests.unit.deploy_history import phase, publish
from tests.unit.history_builder import HistoryBuilder, ledger_fill

PRIMARY, DR = "oms-primary", "oms-dr"
BLUE, GREEN = "oms-blue", "oms-green"


def _health(history: HistoryBuilder, states: dict[str, tuple[str | None, bool]], *, at: float) -> None:
    instances = {name: {"role": role, "deep_ok": deep_ok} for name, (role, deep_ok) in states.items()}
    history.add(OpKind.PROBE, OpType.OK, "probe-health", "health", {"instances": instances}, at=at)


def _steps(start: float, end: float, every: float) -> list[float]:
    return [round(start + n * every, 3) for n in range(round((end - start) / every) + 1)]


def in_time_order(history: HistoryBuilder) -> HistoryBuilder:
    """The ops sorted by time and numbered again: a history is in the order things were observed."""
    ordered = sorted(history.ops, key=lambda op: (op.t_ns, op.index))
    history.ops = [op.model_copy(update={"index": index}) for index, op in enumerate(ordered)]
    return history


def failover_run(*, recovered: bool = True) -> HistoryBuilder:
    """Kill oms-primary at 10 s; oms-dr is promoted at 12.9 s and trades from 13 s (unless not
    ``recovered``); a partition 15-17 s; an exchange fault at 18 s that failed to apply."""
    history = HistoryBuilder()
    history.role(PRIMARY, "active", epoch=1, at=-0.5, reason="promoted (startup)")
    history.role(DR, "standby", epoch=0, at=-0.5, reason="started as standby")
    history.run_start(run_id="run-7", seed=7)
    history.add(OpKind.PROBE, OpType.INFO, "starvation", "host", {"cores": 2, "stress": 0, "interval_s": 1.0},
                at=0.05)
    history.alert("PromotionReconciled", at=0.1, instance=PRIMARY, reason="startup")
    for t in _steps(0.25, 19.75, 0.5):
        primary = ("active", True) if t < 10 else (None, False)
        dr = ("standby", t < 10) if t < 13 or not recovered else ("active", True)
        _health(history, {PRIMARY: primary, DR: dr}, at=t)
    for t in _steps(0.1, 19.9, 0.2):
        if 10 <= t < 13 or (t >= 13 and not recovered):
            history.place(at=t, outcome=OpType.INFO if t == 11.1 else OpType.FAIL,
                          error="timed out" if t == 11.1 else "not active")
        else:
            history.place(at=t, outcome=OpType.OK)
    for t in _steps(0.5, 19.5, 0.5):
        if t < 10:
            history.trade(at=t, instance=PRIMARY)
        elif t < 13 or not recovered:
            history.trade(at=t)
        else:
            history.trade(at=t, instance=DR)
    for t in _steps(1.0, 9.0, 1.0):
        history.replication(4.0 + t, at=t)
        history.sut("looplag", {"instance": PRIMARY, "p50_ms": 0.5, "p99_ms": 2.0, "max_ms": 3.0 + t}, at=t)
        history.add(OpKind.PROBE, OpType.INFO, "starvation", "looplag",
                    {"lag_ms": t, "load_1m": 0.5 + t / 10}, at=t + 0.02)
    history.failover_decision("healthy", at=9.0, heartbeat=True)
    history.fault("kill", at=10.0, target=PRIMARY, fault_id="f1-kill")
    history.failover_decision("suspect", at=10.3, failures=(1, 1), reason="deep health failed")
    if recovered:
        history.failover_decision("promote", at=12.5, failures=(3, 3), reason="3 failures")
        history.role(DR, "active", epoch=2, at=12.9, reason="promoted (failover)")
        history.alert("PromotionReconciled", at=12.95, instance=DR, reason="promotion")
    history.fault("partition", at=15.0, proxy="oms-dr->nats", fault_id="f2-partition")
    history.add(OpKind.FAULT, OpType.INVOKE, "nemesis", "heal", {"fault_id": "f2-partition"}, at=17.0)
    healed = {"fault_id": "f2-partition", "fault": "partition"}
    history.add(OpKind.FAULT, OpType.OK, "nemesis", "heal", healed, at=17.001)
    history.fault("exchange", at=18.0, target="exchange", fault_id="f3-exchange", outcome=OpType.FAIL)
    fills = [ledger_fill(f"e{n}", PRIMARY if t < 10 else DR, "BTC-USD", "buy", 1, t_s=t)
             for n, t in enumerate(_steps(0.3, 19.8, 0.5))]
    history.ledger(fills=fills, at=20.5)
    return in_time_order(history.run_end(at=21.0))


def graded_rto(ops: list[Op]) -> ExpectationResult:
    """``rto.failover`` graded by the real checker, as the runner grades it."""
    return grade_expectation(Expectation(name="rto.failover", max=10), ops)


def _deploy_action(history: HistoryBuilder, action: dict[str, Any], *, at: float, ok: bool = True) -> None:
    publish(history, "deploy.actions", {"batch": 1, "action": action, "ok": ok, "error": None}, at=at)


def _routes(history: HistoryBuilder, instance: str, *, at: float, held: bool = False) -> None:
    publish(history, "frontdoor.routes", {"generation": 1, "held": held,
                                          "upstreams": [{"instance": instance, "weight": 100}]}, at=at)


def deploy_run() -> HistoryBuilder:
    """A clean blue-green cutover at 8.27 s: five deployer actions within 0.2 s of each other."""
    history = HistoryBuilder()
    history.role(BLUE, "active", epoch=1, at=-0.3)
    history.role(GREEN, "dormant", epoch=0, at=-0.3)
    history.run_start(run_id="run-bg", seed=32)
    _routes(history, BLUE, at=0.1)
    for t in _steps(0.25, 19.75, 0.5):
        blue = ("active", True) if t < 8.3 else ("parked", True)
        green = ("dormant", False) if t < 2.2 else ("shadow", True) if t < 8.5 else ("active", True)
        _health(history, {BLUE: blue, GREEN: green}, at=t)
    history.action("deploy", {"action": "deploy", "version": "1.4.3"}, at=2.0)
    phase(history, "launching", "deploy-requested", at=2.2)
    _deploy_action(history, {"kind": "launch", "instance": GREEN, "role": "shadow"}, at=2.203)
    phase(history, "verifying", "launched", at=2.205)
    history.role(GREEN, "shadow", epoch=0, at=2.21)
    phase(history, "cutting-over", "cutover-started", at=8.27)
    _deploy_action(history, {"kind": "hold-traffic", "hold_s": 2.0}, at=8.271)
    _routes(history, BLUE, at=8.271, held=True)
    _deploy_action(history, {"kind": "set-role", "instance": BLUE, "role": "parked"}, at=8.272)
    history.role(BLUE, "parked", epoch=1, at=8.272)
    history.role(GREEN, "active", epoch=2, at=8.44)
    _deploy_action(history, {"kind": "set-role", "instance": GREEN, "role": "active"}, at=8.44)
    _deploy_action(history, {"kind": "set-upstreams", "upstreams": [{"instance": GREEN, "weight": 100}]},
                   at=8.441)
    _routes(history, GREEN, at=8.441)
    phase(history, "live", "cutover-done", at=8.49)
    for t in _steps(0.5, 19.5, 0.5):
        history.trade(at=t, instance=BLUE if t < 8.3 else GREEN)
        history.place(at=t + 0.1, outcome=OpType.OK)
    return in_time_order(history.run_end(at=20.0))


@pytest.fixture(scope="module")
def failover() -> ReportData:
    ops = failover_run().ops
    return build_report_data(ops, [graded_rto(ops)])


def test_times_are_seconds_from_the_run_start(failover: ReportData) -> None:
    assert failover.origin == "run start"
    assert failover.end_s == 21.0
    role = failover.lane(f"role:{PRIMARY}")
    assert role is not None
    assert role.items[0].start_s == 0.0  # the start-up event 0.5 s before the start is clipped to it


def test_order_latency_keeps_ok_failed_and_unknown_apart(failover: ReportData) -> None:
    latency = {series.name: series for series in failover.latency}

    assert (len(latency["ok"]), len(latency["failed"]), len(latency["unknown"])) == (85, 14, 1)
    assert latency["unknown"].t_s == (11.1,)
    assert set(latency["ok"].values) == {10.0}  # each placement answered 10 ms after it was sent
    assert failover.orders.top_errors == {"not active": 14, "timed out": 1}
    assert (failover.orders.placed, failover.orders.fills, failover.orders.fills_source) == (
        100, 40, "venue ledger")


def test_orders_and_fills_per_second_in_buckets(failover: ReportData) -> None:
    rates = failover.rates
    assert rates.bucket_s == 0.5
    assert len(rates.starts_s) == 42
    assert sum(rates.per_second["sent"]) * rates.bucket_s == 100
    assert sum(rates.per_second["fills"]) * rates.bucket_s == 40
    ok_during_outage = rates.per_second["ok"][rates.starts_s.index(11.0)]
    assert ok_during_outage == 0.0


def test_trade_probes_are_rows_by_outcome_and_instance(failover: ReportData) -> None:
    rows = {series.name: len(series) for series in failover.probes}
    assert list(rows) == [f"ok on {PRIMARY}", f"ok on {DR}", "failed"]
    assert rows == {f"ok on {PRIMARY}": 19, f"ok on {DR}": 14, "failed": 6}


def test_fault_windows_kills_are_instants_heals_end_windows(failover: ReportData) -> None:
    kill, partition, exchange = failover.faults

    assert (kill.tag, kill.label, kill.start_s, kill.instant, kill.heal_s) == (
        "F1", f"kill {PRIMARY}", 10.001, True, None)
    assert (partition.tag, partition.label, partition.start_s, partition.end_s, partition.heal_s) == (
        "F2", "partition oms-dr->nats", 15.001, 17.001, 17.001)
    assert (exchange.applied, exchange.instant, exchange.label) == (False, True, "exchange (failed to apply)")


def test_a_fault_never_healed_lasts_to_the_end() -> None:
    history = HistoryBuilder().run_start()
    history.fault("latency", at=3.0, proxy="oms-primary->exchange").run_end(at=9.0)

    [window] = build_report_data(history.ops).faults

    assert (window.start_s, window.end_s, window.heal_s) == (3.001, 9.0, None)


def test_the_rto_is_the_interval_the_checker_measured(failover: ReportData) -> None:
    [rto] = failover.intervals
    graded = graded_rto(failover_run().ops)

    assert (rto.name, rto.start_s, rto.end_s, rto.open_ended) == ("rto.failover", 10.001, 13.0, False)
    assert rto.label == f"RTO {graded.observed_text}"
    assert rto.end_s - rto.start_s == pytest.approx(graded.observed or 0, abs=1e-3)
    measured = failover.lane("measured")
    assert measured is not None
    assert [(item.label, item.start_s, item.end_s) for item in measured.items] == [(rto.label, 10.001, 13.0)]


def test_an_rto_that_never_ended_runs_to_the_end_of_the_history() -> None:
    ops = failover_run(recovered=False).ops

    [rto] = build_report_data(ops, [graded_rto(ops)]).intervals

    assert (rto.label, rto.start_s, rto.end_s, rto.open_ended) == ("RTO: never", 10.001, 21.0, True)


def test_an_unknown_rto_draws_no_interval() -> None:
    history = HistoryBuilder().run_start().trade(at=1.0, instance=PRIMARY).run_end(at=2.0)

    assert build_report_data(history.ops, [graded_rto(history.ops)]).intervals == ()


def _states(data: ReportData, key: str) -> list[tuple[str, float, float | None]]:
    lane = data.lane(key)
    assert lane is not None
    assert lane.kind is LaneKind.STATES
    return [(item.label, item.start_s, item.end_s) for item in lane.items]


def test_roles_come_from_the_instances_and_a_silent_instance_is_down(failover: ReportData) -> None:
    assert _states(failover, f"role:{PRIMARY}") == [("active", 0.0, 10.25), ("down", 10.25, 21.0)]
    assert _states(failover, f"role:{DR}") == [("standby", 0.0, 12.9), ("active", 12.9, 21.0)]


def test_health_per_instance_as_the_probe_read_it(failover: ReportData) -> None:
    assert _states(failover, f"health:{PRIMARY}") == [("deep ok", 0.25, 10.25), ("no answer", 10.25, 20.25)]
    assert _states(failover, f"health:{DR}") == [("deep ok", 0.25, 10.25), ("not deep ok", 10.25, 13.25),
                                                 ("deep ok", 13.25, 20.25)]


def test_without_role_events_the_roles_are_what_the_health_probe_read() -> None:
    history = HistoryBuilder().run_start()
    _health(history, {PRIMARY: ("active", True)}, at=1.0)
    _health(history, {PRIMARY: (None, False)}, at=2.0)
    _health(history, {PRIMARY: ("fenced", True)}, at=3.0)
    history.run_end(at=4.0)

    data = build_report_data(history.ops)

    assert _states(data, f"role:{PRIMARY}") == [("active", 1.0, 2.0), ("down", 2.0, 3.0),
                                                ("fenced", 3.0, 4.0)]


def _events(data: ReportData, key: str) -> list[tuple[str, float, float | None]]:
    lane = data.lane(key)
    assert lane is not None
    return [(item.label, item.start_s, item.end_s) for item in lane.items]


def test_failover_decisions_and_alerts_leave_out_heartbeats_and_start_up(failover: ReportData) -> None:
    assert _events(failover, "failover") == [("failover: suspect", 10.3, None),
                                             ("failover: promote", 12.5, None)]
    assert _events(failover, "alerts") == [(f"PromotionReconciled {DR}", 12.95, None)]
    assert [lane.key for lane in failover.lanes] == [
        "faults", "measured", "failover", "alerts", f"role:{PRIMARY}", f"health:{PRIMARY}", f"role:{DR}",
        f"health:{DR}"]


def test_replication_loop_lag_and_load_where_recorded(failover: ReportData) -> None:
    [replication] = failover.replication
    assert (replication.name, len(replication), replication.values[0]) == (DR, 9, 5.0)
    assert [(series.name, len(series)) for series in failover.loop_lag] == [(PRIMARY, 9), ("harness", 9)]
    assert failover.load is not None
    assert failover.load.values[-1] == 1.4


def test_deploy_phases_deployer_actions_routes_and_operator_lanes() -> None:
    data = build_report_data(deploy_run().ops)

    assert _events(data, "operator") == [("deploy 1.4.3", 2.0, None)]
    assert _events(data, "deploy") == [("launch", 2.2, 2.205), ("shadow / verify", 2.205, 8.27),
                                       ("cutover", 8.27, 8.49), ("rollback window", 8.49, 20.0)]
    assert [label for label, _, _ in _events(data, "deployer")] == [
        f"launch {GREEN} shadow", "hold-traffic", f"set-role {BLUE} parked", f"set-role {GREEN} active",
        f"set-upstreams {GREEN}"]
    assert _events(data, "frontdoor") == [(BLUE, 0.1, 8.271), (f"held ({BLUE})", 8.271, 8.441),
                                          (GREEN, 8.441, 20.0)]
    assert [label for label, _, _ in _states(data, f"role:{GREEN}")] == ["dormant", "shadow", "active"]
    assert [label for label, _, _ in _states(data, f"role:{BLUE}")] == ["active", "parked"]


def test_malformed_values_are_left_out_not_fatal() -> None:
    history = HistoryBuilder().run_start()
    history.add(OpKind.PROBE, OpType.OK, "probe-health", "health", {"instances": ["not", "a", "map"]}, at=1.0)
    history.sut("replication", {"instance": DR, "lag_ms": "slow"}, at=1.5)
    history.sut("roles", {"instance": 7, "role": None}, at=2.0)
    history.add(OpKind.SUT, OpType.INFO, "deploy.phases", "phases", {"phase": "live"}, at=2.5)
    history.add(OpKind.LEDGER, OpType.OK, "venue", "snapshot", {"fills": [{"t_ns": "x"}, "junk"]}, at=3.0)
    history.run_end(at=4.0)

    data = build_report_data(history.ops)

    assert (data.replication, data.faults, data.intervals) == ((), (), ())
    assert [lane.key for lane in data.lanes] == ["faults"]
    assert data.orders.fills == 0


def test_an_empty_history_is_an_empty_report() -> None:
    data = build_report_data([])

    assert (data.origin, data.end_s, data.faults, data.probes) == ("first recorded op", 0.0, (), ())
    assert data.rates.per_second["sent"] == (0.0,)


def test_an_rto_that_never_ended_is_drawn_like_every_other_plot() -> None:
    from gameday.report.html import render_plots

    ops = failover_run(recovered=False).ops

    plots = render_plots(build_report_data(ops, [graded_rto(ops)]))

    assert [(plot.key, plot.error) for plot in plots if plot.error] == []
    assert all(plot.svg for plot in plots)
