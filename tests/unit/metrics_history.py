"""Hand-made scrapes for the metrics tests: ``scrape(at, {service: {name: value or [(labels, value)]}})``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gameday.history import Op, OpKind, OpType
from gameday.metrics.series import METRICS_PROCESS, SCRAPE_F
from tests.unit.history_builder import HistoryBuilder


def crash_scenario(name: str, rule: str, rest: str) -> str:
    """A scenario whose primary is killed at 5 s (fault ``primary-crash``), with the alert ``rule``
    (the mapping's keys after the name NoActiveInstance) and ``rest`` (``stop_when``, ``expect``, ...)."""
    return (f"name: {name}\ndescription: a primary crash watched through the stack's metrics\nseed: 1\n"
            "stack: {preset: active-passive}\n"
            "workload: {orders_per_second: 10, symbols: [BTC-USD], duration: 20s}\n"
            "timeline:\n  - {id: primary-crash, at: 5s, fault: kill, target: oms-primary}\n"
            f"alerts:\n  - {{name: NoActiveInstance, {rule}}}\n{rest}")


Exported = Mapping[str, float | list[tuple[dict[str, str], float]]]


def target(exported: Exported | None) -> dict[str, Any]:
    """One target's recorded scrape; ``None``: the scrape failed."""
    if exported is None:
        return {"ok": False, "error": "ClientConnectorError: connection refused"}
    samples: list[list[object]] = []
    for name, value in exported.items():
        for labels, number in value if isinstance(value, list) else [({}, value)]:
            samples.append([name, labels, number])
    return {"ok": True, "ms": 1.0, "samples": samples}


def scrape(builder: HistoryBuilder, at: float, targets: dict[str, Exported | None]) -> HistoryBuilder:
    return builder.add(OpKind.METRICS, OpType.OK, METRICS_PROCESS, SCRAPE_F,
                       {"targets": {service: target(exported) for service, exported in targets.items()}},
                       at=at)


def scrapes_of(series: dict[float, dict[str, Exported | None]]) -> list[Op]:
    builder = HistoryBuilder()
    for at, targets in series.items():
        scrape(builder, at, targets)
    return builder.ops
