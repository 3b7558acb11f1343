"""The report's scraped-metric panels, alert firings, stop line and order trails, from a run directory:
its history, the scenario it copied and the structured logs collected into ``logs/``."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from gameday.history import OpKind, OpType
from gameday.report.pages import write_readable_reports
from gameday.scenario import parse_scenario
from gameday.service_logs import collect_logs, read_logs
from gameday.verdict import grade_run
from tests.unit.history_builder import HistoryBuilder, ledger_order, oms_order
from tests.unit.metrics_history import crash_scenario, scrape

SCENARIO = crash_scenario("observed", "metric: oms_active, across: sum, below: 1, absent: 0",
                          "stop_when: {no_active_for: 30s}\nexpect:\n  orders.ghost: 0\n")


def _history() -> HistoryBuilder:
    history = HistoryBuilder().run_start(at=0.0)
    for tick in range(1, 13):
        at = tick * 0.5
        primary = {"oms_active": 1, "oms_exposure_notional_total": 1000.0 * tick} if at < 3 else None
        scrape(history, at, {"oms-primary": primary, "oms-dr": {"oms_active": 1 if at >= 5 else 0,
                                                                "oms_store_backlog": tick}})
    stop = {"condition": "no_active_for", "reason": "stopped: x"}
    history.add(OpKind.RUN, OpType.INFO, "runner", "stop", stop, at=6.0)
    history.final_state(active="oms-dr", instances={"oms-dr": {"role": "active", "positions": {},
                                                               "open_orders": [oms_order("o-2", "oms-dr")]}})
    history.ledger(orders=[ledger_order("ghost-1", "oms-primary", 2.0), ledger_order("o-2", "oms-dr", 5.5)])
    return history


def _logs(tmp_path: Path, origin_wall: str) -> Path:
    origin = datetime.fromisoformat(origin_wall).timestamp()
    oms = {"level": "info", "service": "oms", "instance": "oms-primary"}
    lines = [
        {**oms, "ts": origin + 2.0, "event": "order.accepted", "msg": "accepted", "corr": "c-9",
         "cl_ord_id": "ghost-1", "symbol": "BTC-USD"},
        {**oms, "ts": origin + 2.01, "event": "fix.sent", "msg": "NewOrderSingle", "corr": "c-9"},
        {"ts": origin + 2.02, "level": "info", "service": "venue", "instance": "venue", "event": "order.new",
         "msg": "resting", "cl_ord_id": "ghost-1", "order_id": "X-ghost-1"},
        {**oms, "ts": origin + 3.0, "event": "order.accepted", "msg": "another order", "corr": "c-10",
         "cl_ord_id": "other"},
    ]
    source = tmp_path / "source.log"
    json_lines = "\n".join(json.dumps(line) for line in lines)
    source.write_text(f"plain text banner\n{json_lines}\nnot json {{\n")
    return source


def test_the_report_draws_scraped_panels_marks_alerts_and_the_stop_and_follows_the_ghost(
        tmp_path: Path) -> None:
    ops = _history().ops
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "scenario.yaml").write_text(SCENARIO)
    sources = {"oms-primary": str(_logs(tmp_path, ops[0].wall)), "missing": str(tmp_path / "no.log")}
    copied = collect_logs(sources, run_dir)
    result = grade_run(parse_scenario(SCENARIO), ops)

    paths = write_readable_reports(result, ops, run_dir)

    assert copied == {"oms-primary": 4, "missing": 0}
    assert len(read_logs(run_dir)) == 4
    data = json.loads(paths.report_data_json.read_text())
    assert [panel["key"] for panel in data["scraped"]] == ["exposure", "breaker", "backlog"]
    assert [(mark["name"], mark["fired_s"], mark["resolved_s"]) for mark in data["alerts"]] == [
        ("NoActiveInstance", 3.0, 5.0)]
    assert data["stop"]["condition"] == "no_active_for"
    [trail] = data["trails"]
    assert trail["subject"] == "cl_ord_id=ghost-1"
    assert [(line["event"], line["t_s"]) for line in trail["lines"]] == [
        ("order.accepted", 2.0), ("fix.sent", 2.01), ("order.new", 2.02)]
    page = paths.report_html.read_text()
    assert 'id="plot-metrics-exposure"' in page
    assert 'id="plot-metrics-breaker-alert-0"' in page
    assert 'id="plot-metrics-breaker-stop"' in page
    assert "NewOrderSingle" in page
