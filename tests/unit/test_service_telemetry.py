"""The failover daemons' and the venue's /metrics and order-event lines."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from mock_exchange.ledger import Ledger
from mock_exchange.model import Order, OrderStatus, OrdType, Side, TimeInForce
from mock_exchange.telemetry import VenueTelemetry
from trading_stack.config import FailoverConfig
from trading_stack.failover import FailoverDaemon, admin_base
from trading_stack.failover_logic import Decision, Verdict

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(registry: CollectorRegistry) -> Samples:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(generate_latest(registry).decode())
            for sample in family.samples}


def daemon() -> FailoverDaemon:
    return FailoverDaemon(FailoverConfig(
        http_port=0, primary_health_urls=("http://127.0.0.1:7001/health/deep", "http://127.0.0.1:7101/health/deep"),
        dr_admin_url="http://127.0.0.1:7002", candidate_admin_urls=("http://127.0.0.1:7002/", "http://127.0.0.1:7001"),
        admin_token="t", nats_url="nats://127.0.0.1:1"))


def test_admin_base_drops_the_path() -> None:
    assert admin_base("http://127.0.0.1:7001/health/deep") == "http://127.0.0.1:7001"


def test_the_failover_daemon_considers_the_primary_active_until_a_failover_is_confirmed() -> None:
    failover = daemon()
    samples = scrape(failover.telemetry.registry)
    assert samples[("failover_up", ())] == 1
    assert samples[("failover_active_instance", (("instance", "http://127.0.0.1:7001"),))] == 1
    assert samples[("failover_active_instance", (("instance", "http://127.0.0.1:7002"),))] == 0
    assert ("failover_loop_lag_seconds", ()) in samples


def test_known_names_label_the_instances_and_decisions_are_counted(caplog: pytest.LogCaptureFixture) -> None:
    failover = daemon()
    failover._names.update({"http://127.0.0.1:7001": "oms-primary", "http://127.0.0.1:7002": "oms-dr"})
    caplog.set_level(logging.INFO)
    failover.telemetry.decided(Verdict(Decision.SUSPECT, (1, 0), "some checks failing"))
    failover.telemetry.decided(Verdict(Decision.SUSPECT, (2, 0), "some checks failing"))
    samples = scrape(failover.telemetry.registry)
    assert samples[("failover_active_instance", (("instance", "oms-primary"),))] == 1
    assert samples[("failover_decisions_total", (("decision", "suspect"),))] == 2
    [first, _] = [r for r in caplog.records if getattr(r, "event", None) == "suspect"]
    assert first.detail == {"decision": "suspect", "reason": "some checks failing",  # type: ignore[attr-defined]
                            "failures": [1, 0]}


def order(ledger: Ledger, cl_ord_id: str, qty: int) -> Order:
    return ledger.record_order(Order(
        order_id=ledger.next_order_id(), cl_ord_id=cl_ord_id, sender_comp_id="OMS-A", sender_sub_id="oms-a",
        instance="oms-a", symbol="BTC-USD", side=Side.BUY, ord_type=OrdType.LIMIT, tif=TimeInForce.GTC,
        price=100.0, qty=qty, received_ns=1, status=OrderStatus.NEW if qty < 100 else OrderStatus.REJECTED))


def test_the_venue_counts_and_logs_each_live_order_event(tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mock_exchange.orders")
    ledger = Ledger.open(tmp_path / "ledger.jsonl")
    telemetry = VenueTelemetry("MOCKEX", lambda: len(ledger.open_orders), lambda: 3)
    ledger.observer = telemetry
    filled = order(ledger, "c-1", 10)
    ledger.record_fill(filled, qty=10, price=100.0, t_ns=2)
    canceled = order(ledger, "c-2", 5)
    order(ledger, "c-3", 500)
    order(ledger, "c-4", 1)
    ledger.record_cancel(canceled, t_ns=3, text="canceled on request")
    samples = scrape(telemetry.registry)
    assert samples[("venue_orders_total", (("outcome", "accepted"),))] == 3
    assert samples[("venue_orders_total", (("outcome", "rejected"),))] == 1
    assert samples[("venue_fills_total", ())] == 1
    assert samples[("venue_open_orders", ())] == 1
    assert samples[("venue_sessions_logged_on", ())] == 3
    assert samples[("venue_up", ())] == 1
    trail = [(r.event, r.cl_ord_id, r.exec_id) for r in caplog.records  # type: ignore[attr-defined]
             if getattr(r, "cl_ord_id", None) in ("c-1", "c-2")]
    assert [(event, cl_ord_id) for event, cl_ord_id, _ in trail] == [
        ("order_new", "c-1"), ("fill", "c-1"), ("order_new", "c-2"), ("order_canceled", "c-2")]
    assert all(exec_id.startswith("E") for _, _, exec_id in trail)
    ledger.close()

