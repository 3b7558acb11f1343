"""What a scenario reads of the stack's metrics that a target does not expose, one sentence each."""

from __future__ import annotations

from collections.abc import Mapping

from gameday.metrics.series import SERVICE_LABEL
from gameday.scenario.model import Scenario

__all__ = ["METRIC_CHECKER_PREFIXES", "metrics_gaps"]

METRIC_CHECKER_PREFIXES = ("metric.", "alert.", "sla.risk", "sla.feeds")
"""Expectations that read nothing but scraped metrics."""


def _services_named(scenario: Scenario) -> dict[str, str]:
    """Service → where the scenario names it in a series' labels."""
    named: dict[str, str] = {}
    for key, expectation in scenario.expect.items():
        if expectation.labels and SERVICE_LABEL in expectation.labels:
            named.setdefault(expectation.labels[SERVICE_LABEL], f"expect.{key}")
    for alert in scenario.alerts:
        if SERVICE_LABEL in alert.labels:
            named.setdefault(alert.labels[SERVICE_LABEL], f"alerts {alert.name}")
    for line in (scenario.stop_when.metric or ()) if scenario.stop_when else ():
        if SERVICE_LABEL in line.labels:
            named.setdefault(line.labels[SERVICE_LABEL], "stop_when.metric")
    return named


def metrics_gaps(metrics: Mapping[str, str], scenario: Scenario) -> list[str]:
    """``metrics``: service → metrics URL, as the target exposes them."""
    reading = sorted(key for key in scenario.expect if key.startswith(METRIC_CHECKER_PREFIXES))
    reading += [f"alerts {alert.name}" for alert in scenario.alerts]
    if scenario.stop_when is not None and scenario.stop_when.metric:
        reading.append("stop_when.metric")
    if not reading:
        return []
    if not metrics:
        return [f"scenario reads the stack's metrics ({', '.join(reading)}): the target names no metrics "
                f"endpoint (metrics)"]
    return [f"{where} reads the metrics of {service}: the target names no metrics endpoint for it "
            f"(metrics.{service})" for service, where in _services_named(scenario).items()
            if service not in metrics]
