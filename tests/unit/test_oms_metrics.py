"""The OMS's /metrics: outcomes and latencies observed inline, gauges read from the instance when scraped."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from trading_stack.config import OmsConfig
from trading_stack.defects import Defect
from trading_stack.deploy.breaker import BreakerConfig
from trading_stack.metrics_http import ReadingCollector, gauge, new_registry
from trading_stack.models import Fill, Side
from trading_stack.oms import Oms
from trading_stack.oms_metrics import OrderMetrics, outcome_of

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(registry: object) -> Samples:
    text = generate_latest(registry).decode()  # type: ignore[arg-type]
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def oms_of(**extra: object) -> Oms:
    return Oms(OmsConfig.model_validate({
        "instance_id": "oms-a", "initial_role": "standby", "http_port": 0, "admin_token": "t", "fix_port": 1,
        "fix_sender_comp_id": "OMS-A", "nats_url": "nats://127.0.0.1:1",
        "database_dsn": "postgresql://oms@127.0.0.1:1/oms", **extra}))


@pytest.mark.parametrize(("status", "error", "expected"), [
    (201, None, ("accepted", None)),
    (200, None, ("accepted", None)),
    (422, "risk limit", ("rejected", "risk_limit")),
    (502, "venue rejected the order", ("rejected", "venue_rejected_the_order")),
    (503, "halted", ("rejected", "halted")),
    (503, "market data stale", ("rejected", "market_data_stale")),
    (503, "not active", ("failed", None)),
    (503, "venue session down", ("failed", None)),
    (504, "venue did not answer", ("failed", None)),
    (409, None, ("rejected", "other")),
    (422, "!!!", ("rejected", "other")),
])
def test_an_answer_is_accepted_rejected_with_a_bounded_reason_or_failed(
        status: int, error: str | None, expected: tuple[str, str | None]) -> None:
    assert outcome_of(status, error) == expected


def test_outcomes_rejects_and_both_latency_stages_are_counted() -> None:
    registry = new_registry()
    metrics = OrderMetrics(registry)
    metrics.answered(201, {"order_id": "o1"}, started=0.0, order_id="o1", filled=False)
    metrics.answered(201, {"order_id": "o2"}, started=0.0, order_id="o2", filled=True)  # filled by its ack
    metrics.answered(422, {"error": "risk limit"}, started=0.0, order_id=None, filled=False)
    metrics.answered(503, {"error": "not active"}, started=0.0, order_id=None, filled=False)
    metrics.filled("o1")
    metrics.filled("o1")  # a second fill of the order is not its first
    samples = scrape(registry)
    assert value(samples, "oms_orders_total", outcome="accepted") == 2
    assert value(samples, "oms_orders_total", outcome="rejected") == 1
    assert value(samples, "oms_orders_total", outcome="failed") == 1
    assert value(samples, "oms_rejects_total", reason="risk_limit") == 1
    assert value(samples, "oms_order_latency_seconds_count", stage="ack") == 2
    assert value(samples, "oms_order_latency_seconds_count", stage="fill") == 2
    assert value(samples, "oms_order_latency_seconds_sum", stage="ack") > 0


def test_an_order_done_without_a_fill_is_forgotten() -> None:
    registry = new_registry()
    metrics = OrderMetrics(registry)
    metrics.answered(201, {}, started=0.0, order_id="o1", filled=False)
    metrics.done("o1")
    metrics.filled("o1")
    assert value(scrape(registry), "oms_order_latency_seconds_count", stage="fill") == 0


def test_a_reading_that_fails_is_left_out_and_the_others_are_served() -> None:
    def broken() -> Iterable[Metric]:
        raise RuntimeError("bug")

    registry = new_registry()
    registry.register(ReadingCollector(broken, lambda: [gauge("x_up", "up", 1)]))
    assert scrape(registry) == {("x_up", ()): 1.0}


def test_a_standby_is_not_active_and_the_defect_says_it_is() -> None:
    assert value(scrape(oms_of().registry), "oms_active") == 0
    lying = oms_of(defects=[Defect.ACTIVE_GAUGE_ALWAYS_ON.value])
    assert value(scrape(lying.registry), "oms_active") == 1
    assert value(scrape(lying.registry), "oms_up") == 1


def test_an_active_instance_says_so() -> None:
    oms = oms_of()
    oms.roles.activate(1)
    assert value(scrape(oms.registry), "oms_active") == 1


def test_positions_exposure_pnl_and_limits_are_read_when_scraped() -> None:
    oms = oms_of(breaker=BreakerConfig(max_loss=1000.0).model_dump())
    for exec_id, side, qty, price in (("E1", Side.BUY, 10, 100.0), ("E2", Side.SELL, 4, 110.0)):
        oms.book.apply_fill(Fill(exec_id=exec_id, order_id="o1", exchange_order_id="X1", symbol="AAPL",
                                 side=side, qty=qty, price=price, t_ns=1, instance="oms-a"))
    oms.breaker.marks["AAPL"] = 90.0
    oms.risk.set("AAPL", 20)
    oms.metrics.last_qty["AAPL"] = 5
    samples = scrape(oms.registry)
    assert value(samples, "oms_position", symbol="AAPL") == 6
    assert value(samples, "oms_exposure_notional", symbol="AAPL") == 6 * 90.0
    assert value(samples, "oms_exposure_notional_total") == 540.0
    assert value(samples, "oms_realized_pnl") == pytest.approx(40.0)
    assert value(samples, "oms_unrealized_pnl") == pytest.approx(-60.0)
    assert value(samples, "oms_risk_limit_utilisation", limit="max_loss") == pytest.approx(20.0 / 1000.0)
    assert value(samples, "oms_risk_limit_utilisation", limit="max_order_qty:AAPL") == 0.25
    assert value(samples, "oms_breaker_tripped") == 0


def test_the_kill_switch_is_both_a_trip_and_engaged() -> None:
    oms = oms_of()
    oms.breaker.breaker.kill(1, "ops")
    samples = scrape(oms.registry)
    assert value(samples, "oms_breaker_tripped") == 1
    assert value(samples, "oms_kill_switch_engaged") == 1
