"""The metrics probe for real: two Prometheus exporters on loopback (aiohttp servers serving the text
format), one of them stopped part way; the probe records every scrape (the dead one as failed, its
series absent), and the ``metric.*`` and ``alert.*`` checkers grade what it recorded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

from gameday.history import History, OpKind, OpType
from gameday.metrics.scraper import metrics_probe
from gameday.scenario import parse_scenario
from gameday.verdict import Verdict, grade_run
from tests.unit.metrics_history import crash_scenario

pytestmark = pytest.mark.integration

SCENARIO = crash_scenario("scraped", "metric: oms_active, across: sum, below: 1, absent: 0, for: 100ms", """\
expect:
  alert.time_to_fire: {alert: NoActiveInstance, from: primary-crash, max: 2s}
  alert.time_to_resolve: {alert: NoActiveInstance, from: primary-crash, max: 5s}
  metric.max@backlog: {metric: oms_store_backlog, labels: {service: oms-primary}, max: 100}
  metric.rate@acks: {metric: oms_orders_total, labels: {outcome: ok}, min: 1}
  metric.p99@ack: {metric: oms_order_latency_seconds, labels: {stage: ack}, max: 0.05}
""")
INTERVAL_S = 0.05


@dataclass
class Exporter:
    active: int
    backlog: int = 0
    acks: int = 0
    scrapes: int = field(default=0)

    def text(self) -> str:
        self.scrapes += 1
        self.acks += 10
        self.backlog += 1
        return ("# TYPE oms_active gauge\n"
                f"oms_active {self.active}\n"
                f"oms_store_backlog {self.backlog}\n"
                "# TYPE oms_orders_total counter\n"
                f'oms_orders_total{{outcome="ok"}} {self.acks}\n'
                "# TYPE oms_order_latency_seconds histogram\n"
                f'oms_order_latency_seconds_bucket{{stage="ack",le="0.01"}} {self.acks}\n'
                f'oms_order_latency_seconds_bucket{{stage="ack",le="+Inf"}} {self.acks}\n'
                f'oms_order_latency_seconds_count{{stage="ack"}} {self.acks}\n'
                "process_cpu_seconds_total 1.5\n")


@asynccontextmanager
async def serving(exporter: Exporter) -> AsyncIterator[tuple[str, web.AppRunner]]:
    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text=exporter.text(), content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/metrics", runner
    finally:
        await runner.cleanup()


async def _until(condition: object, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the condition did not hold in time"
        await asyncio.sleep(INTERVAL_S / 2)


def _recorded(history: History, *, dead: bool, since: int = 0) -> int:
    """Scrapes recorded (from op ``since`` on) at which the primary was dead (``dead``) or answered."""
    return sum(1 for op in history.ops[since:] if op.kind == OpKind.METRICS
               and op.value["targets"]["oms-primary"]["ok"] is not dead)


async def test_scraped_series_are_recorded_and_graded_and_a_dead_exporter_is_absent() -> None:
    scenario = parse_scenario(SCENARIO)
    history = History()
    primary, dr = Exporter(active=1), Exporter(active=0)
    async with serving(primary) as (primary_url, primary_runner), serving(dr) as (dr_url, _), \
            aiohttp.ClientSession() as session:
        history.append(OpKind.RUN, OpType.INFO, "runner", "start", {"run_id": "r", "seed": 1})
        probe = asyncio.create_task(metrics_probe(session, {"oms-primary": primary_url, "oms-dr": dr_url},
                                                  history, INTERVAL_S, scenario.metric_families))
        try:
            await _until(lambda: primary.scrapes >= 5)
            history.append(OpKind.FAULT, OpType.OK, "nemesis", "kill",
                           {"fault_id": "f1-kill", "target": "oms-primary"})
            await primary_runner.cleanup()  # the process is gone: connection refused from now on
            await _until(lambda: _recorded(history, dead=True) >= 6)
            dr.active = 1  # promoted
            promoted_at = len(history.ops)
            await _until(lambda: _recorded(history, dead=True, since=promoted_at) >= 4)
        finally:
            probe.cancel()
            await asyncio.gather(probe, return_exceptions=True)
        history.append(OpKind.RUN, OpType.INFO, "runner", "end", {"status": "completed"})

    scraped = [op for op in history.ops if op.kind == OpKind.METRICS]
    dead = [op for op in scraped if not op.value["targets"]["oms-primary"]["ok"]]
    assert len(scraped) >= 15
    assert len(dead) >= 6
    assert all("ClientConnectorError" in op.value["targets"]["oms-primary"]["error"] for op in dead)
    kept = {sample[0] for sample in scraped[0].value["targets"]["oms-dr"]["samples"]}
    assert "process_cpu_seconds_total" not in kept  # only the wanted families are recorded
    result = grade_run(scenario, history.ops)
    graded = {case.name: case for case in result.expectations}
    assert {name: case.verdict for name, case in graded.items()} == dict.fromkeys(graded, Verdict.PASS)
    assert graded["metric.max@backlog"].observed == primary.scrapes
    assert graded["metric.p99@ack"].observed is not None
    assert graded["metric.p99@ack"].observed <= 0.01
