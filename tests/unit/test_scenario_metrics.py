"""``alerts:``, the ``metric``/``alert`` options of expectations and ``stop_when.metric`` loaded into typed
models; each malformed case is one loader error line; a target file's ``metrics`` and ``logs``."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.errors import ScenarioError, TargetFileError
from gameday.metrics import MetricQuery
from gameday.metrics.series import Across
from gameday.scenario import parse_scenario
from gameday.target_file import load_target_file, scenario_gaps
from gameday.verdict import grading_context

BASE = ("name: m\ndescription: d\nseed: 1\nstack: {preset: active-passive}\n"
        "workload: {orders_per_second: 10, symbols: [BTC-USD], duration: 20s}\n"
        "timeline:\n  - {id: crash, at: 5s, fault: kill, target: oms-primary}\n")
RULE = "alerts:\n  - {name: NoActive, metric: oms_active, across: sum, below: 1, absent: 0, for: 1s}\n"


def test_alerts_metric_expectations_and_a_metric_stop_line_load_and_reach_the_grading_context() -> None:
    scenario = parse_scenario(BASE + RULE + "stop_when:\n  metric: {metric: oms_realized_pnl, below: -5000}\n"
                              "expect:\n  alert.time_to_fire: {alert: NoActive, from: crash, max: 5s}\n"
                              "  metric.p99@ack: {metric: oms_order_latency_seconds, labels: {stage: ack}, "
                              "max: 0.5, after: crash}\n")

    [rule] = scenario.alerts
    assert rule.rule.condition.for_ns == 1_000_000_000
    assert rule.absent == 0
    assert scenario.stop_when is not None
    assert scenario.stop_when.metric is not None
    assert scenario.stop_when.metric[0].condition.below == -5000
    assert scenario.metric_families == {"oms_active", "oms_realized_pnl", "oms_order_latency_seconds"}
    alert_context = grading_context(scenario, scenario.expect["alert.time_to_fire"])
    assert alert_context.alert == rule.rule
    assert alert_context.anchor == "f1-kill"
    metric_context = grading_context(scenario, scenario.expect["metric.p99@ack"])
    assert metric_context.metric == MetricQuery("oms_order_latency_seconds", {"stage": "ack"}, Across.MAX)
    assert metric_context.window is not None
    assert metric_context.window.fault_id == "f1-kill"


@pytest.mark.parametrize(("body", "where", "reason"), [
    ("alerts:\n  - {name: A, metric: oms_active, below: 1}\n  - {name: A, metric: oms_up, above: 1}\n"
     "expect: {orders.ghost: 0}\n", "alerts", "expected each alert name once, got A more than once"),
    ("alerts:\n  - {name: A, metric: 9bad, below: 1}\nexpect: {orders.ghost: 0}\n", "alerts[0].metric",
     "expected a Prometheus metric name"),
    ("alerts:\n  - {name: A, metric: oms_active}\nexpect: {orders.ghost: 0}\n", "alerts[0]",
     "expected exactly one of above or below, got neither"),
    ("alerts:\n  - {name: A-b, metric: oms_active, below: 1}\nexpect: {orders.ghost: 0}\n", "alerts[0].name",
     "expected a name of letters, digits and '_'"),
    ("alerts:\n  - {name: A, metric: oms_active, below: 1, across: avg}\nexpect: {orders.ghost: 0}\n",
     "alerts[0].across", "expected 'max', 'min', 'sum' or 'count'"),
    ("alerts:\n  - {name: A, metric: oms_active, below: .inf}\nexpect: {orders.ghost: 0}\n",
     "alerts[0].below", "expected a finite number"),
    ("alerts:\n  - {name: A, metric: oms_active, below: 1, labels: {bad-label: x}}\n"
     "expect: {orders.ghost: 0}\n", "alerts[0].labels",
     "expected label names of letters, digits and '_', got bad-label"),
    ("expect:\n  alert.firings: {alert: Nope, equals: 0}\n", 'expect["alert.firings"].alert',
     "expected one of the scenario's alerts (none), got Nope"),
    ("expect:\n  alert.firings: {equals: 0}\n", 'expect["alert.firings"]', "alert.firings needs alert"),
    ("expect:\n  metric.max: {max: 3}\n", 'expect["metric.max"]', "metric.max needs metric"),
    ("expect:\n  orders.ghost: {equals: 0, metric: oms_x}\n", 'expect["orders.ghost"]',
     "orders.ghost does not take metric"),
    ("expect:\n  orders.ghost: {equals: 0, labels: {a: b}}\n", 'expect["orders.ghost"]',
     "orders.ghost does not take labels"),
    (RULE + "expect:\n  alert.time_to_fire: {alert: NoActive, max: 5s}\n", 'expect["alert.time_to_fire"]',
     "alert.time_to_fire needs from"),
    ("stop_when: {metric: {metric: oms_x}}\nexpect: {orders.ghost: 0}\n", "stop_when.metric[0]",
     "expected exactly one of above or below"),
    ("stop_when: {metric: []}\nexpect: {orders.ghost: 0}\n", "stop_when.metric", "expected a condition"),
    ("stop_when: {metric: [{metric: oms_x, above: 3, for: soon}]}\nexpect: {orders.ghost: 0}\n",
     "stop_when.metric[0].for", "expected a duration such as"),
])
def test_a_malformed_metrics_field_is_one_error_with_its_place(body: str, where: str, reason: str) -> None:
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(BASE + body, file="m.yaml")

    [problem] = raised.value.problems
    assert problem.yaml_path == where
    assert reason in problem.message
    assert problem.line is not None


TARGET = """\
name: staging
oms:
  instances: {oms-primary: "http://127.0.0.1:8080", oms-dr: "http://127.0.0.1:8081"}
venue: {admin_url: "http://127.0.0.1:9000"}
services:
  oms-primary: {pid: 4242}
"""


def _target(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "target.yaml"
    path.write_text(TARGET + extra)
    return path


def test_a_target_file_names_metrics_urls_and_log_files_relative_to_itself(tmp_path: Path) -> None:
    target = load_target_file(_target(tmp_path, 'metrics: {oms-primary: "http://127.0.0.1:8080/metrics"}\n'
                                                "logs: {oms-primary: logs/oms-*.log}\n"))

    assert target.metrics == {"oms-primary": "http://127.0.0.1:8080/metrics"}
    assert target.logs == {"oms-primary": str(tmp_path / "logs" / "oms-*.log")}


@pytest.mark.parametrize(("extra", "where", "reason"), [
    ('metrics: {oms-primary: "ftp://127.0.0.1/m"}\n', "metrics", "expected http:// or https:// URLs"),
    ('metrics: {oms-primary: "http://10.0.0.9:8080/metrics"}\n', 'metrics["oms-primary"]', "not on loopback"),
    ('logs: {oms-primary: "  "}\n', "logs", "expected a path or a glob"),
])
def test_a_malformed_metrics_or_logs_section_is_refused_at_its_place(tmp_path: Path, extra: str, where: str,
                                                                     reason: str) -> None:
    with pytest.raises(TargetFileError) as raised:
        load_target_file(_target(tmp_path, extra))

    [problem] = raised.value.problems
    assert problem.yaml_path.replace(".oms-primary", '["oms-primary"]') == where
    assert reason in problem.message


def test_a_scenario_reading_metrics_the_target_does_not_expose_is_refused_as_a_gap(tmp_path: Path) -> None:
    scenario = parse_scenario(BASE + RULE + "expect:\n  metric.max: {metric: oms_store_backlog, max: 9, "
                              "labels: {service: oms-dr}}\n")

    [no_endpoint] = scenario_gaps(load_target_file(_target(tmp_path, "")), scenario)
    with_primary = load_target_file(_target(tmp_path, 'metrics: {oms-primary: "http://127.0.0.1:8080/m"}\n'))
    [no_dr] = scenario_gaps(with_primary, scenario)

    assert no_endpoint.startswith("scenario reads the stack's metrics (metric.max, alerts NoActive)")
    assert no_dr == ('expect.metric.max reads the metrics of oms-dr: the target names no metrics endpoint '
                     'for it (metrics.oms-dr)')
