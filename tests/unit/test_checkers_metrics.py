"""``metric.*``, ``alert.*``, ``sla.*``, ``run.stop_lines_crossed`` and the ledger-at-end checkers,
graded through the scenario as a run grades them."""

from __future__ import annotations

from gameday.history import Op, OpKind, OpType, RunPhase
from gameday.scenario import parse_scenario
from gameday.verdict import Verdict, grade_run
from tests.unit.history_builder import HistoryBuilder, ledger_fill, ledger_order, ns
from tests.unit.metrics_history import crash_scenario, scrape

SCENARIO = crash_scenario("metrics", "metric: oms_active, across: sum, below: 1, absent: 0, for: 500ms",
                          "expect:\n")


def _grade(expect: str, ops: list[Op]) -> dict[str, tuple[Verdict, float | int | None]]:
    scenario = parse_scenario(SCENARIO + expect)
    result = grade_run(scenario, ops)
    return {case.name: (case.verdict, case.observed) for case in result.expectations}


def _failover_history(*, dr_says_active: bool = False) -> HistoryBuilder:
    """Primary active until killed at 5 s; the DR promoted at 8 s; scrapes every 0.5 s; backlog 2..40."""
    history = HistoryBuilder().run_start(at=0.0)
    history.add(OpKind.RUN, OpType.INFO, "runner", "phase", {"phase": RunPhase.WORKLOAD.value,
                                                            "starts_ns": ns(0.5)}, at=0.5)
    for tick in range(1, 25):
        at = tick * 0.5
        primary = {"oms_active": 1, "oms_store_backlog": 2 * tick} if at < 5 else None
        dr = {"oms_active": 1 if at >= 8 or dr_says_active else 0, "oms_store_backlog": 0}
        scrape(history, at, {"oms-primary": primary, "oms-dr": dr})
        if at == 5.0:
            history.fault("kill", at=5.0, target="oms-primary", fault_id="f1-kill")
    return history


def test_metric_bounds_read_the_series_over_the_run_and_during_a_fault() -> None:
    ops = _failover_history().ops

    graded = _grade("  metric.max@backlog: {metric: oms_store_backlog, max: 10}\n"
                    "  metric.max@dr-backlog: {metric: oms_store_backlog, labels: {service: oms-dr}, "
                    "max: 0}\n"
                    "  metric.min@active-during: {metric: oms_active, across: sum, min: 1, "
                    "during: primary-crash}\n", ops)

    assert graded["metric.max@backlog"] == (Verdict.FAIL, 18)  # 2 * 9 at 4.5 s
    assert graded["metric.max@dr-backlog"] == (Verdict.PASS, 0)
    assert graded["metric.min@active-during"] == (Verdict.FAIL, 0)


def test_a_metric_never_scraped_is_unknown_never_a_pass() -> None:
    ops = HistoryBuilder().run_start(at=0.0).run_end(at=10.0).ops

    graded = _grade("  metric.max: {metric: oms_store_backlog, max: 10}\n", ops)

    assert graded["metric.max"] == (Verdict.UNKNOWN, None)


def test_the_alert_fires_after_the_kill_and_resolves_after_the_promotion() -> None:
    ops = _failover_history().ops

    graded = _grade("  alert.time_to_fire: {alert: NoActiveInstance, from: primary-crash, max: 5s}\n"
                    "  alert.time_to_resolve: {alert: NoActiveInstance, from: primary-crash, max: 5s}\n"
                    "  alert.firings: {alert: NoActiveInstance, equals: 1}\n", ops)

    # the kill is applied at 5.001 s; the rule holds from 5.0 and fires at 5.5; the DR says active at 8 s
    assert graded["alert.time_to_fire"] == (Verdict.PASS, 0.499)
    assert graded["alert.time_to_resolve"] == (Verdict.PASS, 2.999)
    assert graded["alert.firings"] == (Verdict.PASS, 1)


def test_an_active_gauge_always_on_hides_the_outage_and_the_alert_expectation_fails() -> None:
    ops = _failover_history(dr_says_active=True).ops

    graded = _grade("  alert.time_to_fire: {alert: NoActiveInstance, from: primary-crash, max: 5s}\n"
                    "  alert.time_to_resolve: {alert: NoActiveInstance, from: primary-crash, max: 5s}\n"
                    "  alert.firings: {alert: NoActiveInstance, equals: 0}\n", ops)

    assert graded["alert.time_to_fire"] == (Verdict.FAIL, None)
    assert graded["alert.time_to_resolve"][0] is Verdict.UNKNOWN  # never fired: nothing resolved
    assert graded["alert.firings"] == (Verdict.PASS, 0)


def test_component_slas_read_the_probes_and_the_scrapes_of_the_workload() -> None:
    history = _failover_history()
    for tick in range(1, 21):
        at = tick * 0.5
        active = at < 5 or at >= 8
        history.add(OpKind.PROBE, OpType.OK, "probe-health", "health", {"instances": {
            "oms-primary": {"role": "active" if at < 5 else None, "deep_ok": at < 5},
            "oms-dr": {"role": "active" if at >= 8 else "standby", "deep_ok": at >= 9}}}, at=at)
        history.trade(at=at + 0.01, instance="oms-primary" if active else None)
    history.add(OpKind.RUN, OpType.INFO, "runner", "phase", {"phase": RunPhase.HEAL.value}, at=10.25)

    graded = _grade("  sla.engine: {min: 0}\n  sla.desk: {min: 0}\n  sla.execution: {min: 0}\n"
                    "  sla.risk: {min: 0}\n", history.ops)

    # health samples 0.5..10.0 (20): active but 5.0..7.5 (6 down) -> 14; desk also down at 8.0, 8.5
    assert graded["sla.engine"] == (Verdict.PASS, 0.7)
    assert graded["sla.desk"] == (Verdict.PASS, 0.6)
    assert graded["sla.execution"] == (Verdict.PASS, 0.7)
    assert graded["sla.risk"] == (Verdict.UNKNOWN, None)  # no breaker gauge was scraped


def test_the_book_at_the_end_and_whether_a_stop_line_was_crossed() -> None:
    history = HistoryBuilder().run_start(at=0.0)
    history.add(OpKind.RUN, OpType.INFO, "runner", "stop", {"condition": "metric", "reason": "stopped"}, at=9)
    history.ledger(orders=[ledger_order("a", "oms-primary", 1.0), ledger_order("b", "oms-primary", 2.0,
                                                                             status="filled", cum_qty=1)],
                   fills=[ledger_fill("e1", "oms-primary", "BTC-USD", "buy", 5),
                          ledger_fill("e2", "oms-primary", "BTC-USD", "sell", 2)])

    graded = _grade("  run.stop_lines_crossed: 0\n  ledger.open_orders_at_end: 0\n"
                    "  ledger.gross_position_at_end: 0\n", history.ops)

    assert graded["run.stop_lines_crossed"] == (Verdict.FAIL, 1)
    assert graded["ledger.open_orders_at_end"] == (Verdict.FAIL, 1)
    assert graded["ledger.gross_position_at_end"] == (Verdict.FAIL, 3)
