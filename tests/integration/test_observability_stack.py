"""The embedded stack is observable (issue 19): every service serves ``/metrics`` with the contract's
names, and a client's ``X-Correlation-Id`` follows its order through the OMS's JSON log lines, the
database and the standby, while the venue logs the order's ClOrdID."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gameday.stack.rundir import RunDir
from gameday.stack.settings import StackSettings
from reference_target.local import LocalStack
from tests.integration.test_oms_support import wait_until

pytestmark = pytest.mark.integration

OMS_NAMES = {"oms_up", "oms_active", "oms_order_latency_seconds", "oms_orders", "oms_rejects",
             "oms_open_orders", "oms_store_backlog", "oms_events_backlog", "oms_risk_limit_utilisation",
             "oms_position",
             "oms_exposure_notional", "oms_exposure_notional_total", "oms_realized_pnl", "oms_unrealized_pnl",
             "oms_breaker_tripped", "oms_kill_switch_engaged", "oms_loop_lag_seconds"}
FAILOVER_NAMES = {"failover_up", "failover_active_instance", "failover_decisions",
                  "failover_loop_lag_seconds"}
VENUE_NAMES = {"venue_up", "venue_orders", "venue_fills", "venue_open_orders", "venue_sessions_logged_on"}
LOG_KEYS = {"ts", "level", "service", "instance", "event", "msg"}


async def families(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(f"{url}/metrics") as response:  # no token: read-only, like any Prometheus target
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    return {family.name: family for family in text_string_to_metric_families(text)}


def sample(found: dict[str, Any], family: str, name: str, **labels: str) -> float:
    return next(s.value for s in found[family].samples if s.name == name and s.labels == labels)


def log_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for raw in path.read_text().splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def events_of(path: Path, corr: str) -> list[str]:
    return [line["event"] for line in log_lines(path) if line.get("corr") == corr]


async def test_metrics_and_a_correlation_id_across_the_stack(tmp_path: Path) -> None:
    run = RunDir(tmp_path, "observable")
    settings = StackSettings(run_dir=run, seed=7, cache_dir=tmp_path.parent / "pg-cache", start_timeout_s=40)
    async with LocalStack(settings) as stack, aiohttp.ClientSession() as http:
        primary, dr = stack.endpoints.oms["oms-primary"], stack.endpoints.oms["oms-dr"]
        failover = f"http://127.0.0.1:{stack.processes['failover'].ports['http']}"
        order = {"symbol": settings.symbols[0], "side": "buy", "qty": 3, "type": "market"}
        correlated = {"X-Correlation-Id": "t-123"}
        async with http.post(f"{primary}/orders", json=order, headers=correlated) as answer:
            assert answer.status == 201, await answer.text()
            assert answer.headers["X-Correlation-Id"] == "t-123"
            cl_ord_id = (await answer.json())["order_id"]
        async with http.post(f"{primary}/orders", json={**order, "qty": 0}) as invalid:
            assert invalid.status == 422  # refused before it is an order: not counted

        found = await families(http, primary)
        assert set(found) >= OMS_NAMES
        assert sample(found, "oms_active", "oms_active") == 1
        assert sample(found, "oms_orders", "oms_orders_total", outcome="accepted") == 1
        assert sample(found, "oms_orders", "oms_orders_total", outcome="rejected") == 0
        assert sample(found, "oms_order_latency_seconds", "oms_order_latency_seconds_count", stage="ack") == 1
        standby = await families(http, dr)
        assert sample(standby, "oms_active", "oms_active") == 0
        assert sample(standby, "oms_up", "oms_up") == 1

        daemon = await families(http, failover)
        assert set(daemon) >= FAILOVER_NAMES
        assert sample(daemon, "failover_up", "failover_up") == 1
        venue = await families(http, stack.endpoints.venue_admin)
        assert set(venue) >= VENUE_NAMES
        assert sample(venue, "venue_orders", "venue_orders_total", outcome="accepted") >= 1
        assert sample(venue, "venue_sessions_logged_on", "venue_sessions_logged_on") == 1  # the active's

        logs = run.stack
        trail = ("order_accepted", "order_sent", "order_new", "fill", "order_filled", "order_stored")

        def primary_trail() -> bool:
            seen = events_of(logs / "oms-primary.log", "t-123")
            return all(step in seen for step in trail)

        await wait_until(primary_trail, 10, f"the primary's log of t-123: {trail}")
        seen = events_of(logs / "oms-primary.log", "t-123")
        assert seen.index("order_accepted") < seen.index("order_sent") < seen.index("order_filled")
        await wait_until(lambda: "order_mirrored" in events_of(logs / "oms-dr.log", "t-123"), 10,
                         "the standby's log of the mirrored order, with its correlation id")

        def venue_has_it() -> bool:
            return {"order_new", "fill"} <= {line["event"] for line in log_lines(logs / "exchange.log")
                                             if line.get("cl_ord_id") == cl_ord_id}

        await wait_until(venue_has_it, 10, f"the venue's log of {cl_ord_id}")
        for name in ("oms-primary", "oms-dr", "exchange", "failover"):
            lines = log_lines(logs / f"{name}.log")
            assert lines, f"{name} logged JSON lines"
            assert all(set(line) >= LOG_KEYS for line in lines), f"{name}: every line has the schema"
        assert {line["service"] for line in log_lines(logs / "exchange.log")} == {"venue"}

        connection = await asyncpg.connect(stack.endpoints.database_dsn)
        try:
            stored = await connection.fetchval("SELECT corr FROM oms_orders WHERE cl_ord_id = $1", cl_ord_id)
        finally:
            await connection.close()
        assert stored == "t-123"
