"""The Prometheus text read for the wanted families; scrapes read back, selected, aggregated, alerted on."""

from __future__ import annotations

import pytest

from gameday.metrics import Condition, MetricQuery, firings, parse_exposition, scrapes
from gameday.metrics.aggregates import Aggregate, aggregate, increase
from gameday.metrics.exposition import MAX_SAMPLES, ExpositionError, sample_names
from gameday.metrics.scraper import venue_headers
from gameday.metrics.series import Across
from tests.unit.history_builder import ns
from tests.unit.metrics_history import scrapes_of

TEXT = """# HELP oms_orders_total Orders by outcome
# TYPE oms_orders_total counter
oms_orders_total{outcome="ok"} 12.0
oms_orders_total{outcome="rejected"} 3.0
# TYPE oms_order_latency_seconds histogram
oms_order_latency_seconds_bucket{stage="ack",le="0.01"} 4.0
oms_order_latency_seconds_bucket{stage="ack",le="+Inf"} 5.0
oms_order_latency_seconds_count{stage="ack"} 5.0
oms_order_latency_seconds_sum{stage="ack"} 0.2
oms_active 1.0
oms_loop_lag_seconds NaN
python_gc_objects_collected_total{generation="0"} 1234.0
"""


def test_only_the_wanted_families_are_kept_by_sample_name() -> None:
    parsed = parse_exposition(TEXT, sample_names({"oms_orders", "oms_order_latency_seconds", "oms_active",
                                                  "oms_loop_lag_seconds"}))

    kept = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value for sample in parsed.samples}
    assert kept[("oms_orders_total", (("outcome", "rejected"),))] == 3.0
    assert kept[("oms_order_latency_seconds_bucket", (("le", "+Inf"), ("stage", "ack")))] == 5.0
    assert kept[("oms_active", ())] == 1.0
    assert not any(name.startswith("python_gc") for name, _ in kept)
    assert ("oms_loop_lag_seconds", ()) not in kept  # NaN is not kept: no bound admits it
    assert parsed.dropped == 0


def test_an_exporter_beyond_the_bound_keeps_the_first_samples_and_counts_the_rest() -> None:
    text = "".join(f'oms_position{{symbol="S{index}"}} {index}\n' for index in range(MAX_SAMPLES + 7))

    parsed = parse_exposition(text, sample_names({"oms_position"}))

    assert len(parsed.samples) == MAX_SAMPLES
    assert parsed.dropped == 7


def test_text_that_is_not_the_exposition_format_is_refused() -> None:
    with pytest.raises(ExpositionError):
        parse_exposition('oms_active{service="x" 1\n', sample_names({"oms_active"}))


def test_a_query_combines_the_selected_series_at_each_scrape_and_a_dead_target_is_absent() -> None:
    ops = scrapes_of({
        1.0: {"oms-primary": {"oms_active": 1}, "oms-dr": {"oms_active": 0}},
        2.0: {"oms-primary": None, "oms-dr": {"oms_active": 0}},
        3.0: {"oms-primary": None, "oms-dr": None},
    })
    read = scrapes(ops)

    total = MetricQuery("oms_active", across=Across.SUM)
    assert [total.at(scrape) for scrape in read] == [1.0, 0.0, None]
    primary = MetricQuery("oms_active", {"service": "oms-primary"})
    assert [primary.at(scrape) for scrape in read] == [1.0, None, None]
    assert not read[1].targets["oms-primary"].ok


def test_aggregates_over_gauges_counters_and_a_histogram() -> None:
    ops = scrapes_of({
        1.0: {"oms": {"oms_store_backlog": 3, "oms_orders_total": [({"outcome": "ok"}, 10)],
                      "lat_bucket": [({"le": "0.1"}, 0), ({"le": "1"}, 0), ({"le": "+Inf"}, 0)]}},
        2.0: {"oms": {"oms_store_backlog": 9, "oms_orders_total": [({"outcome": "ok"}, 30)],
                      "lat_bucket": [({"le": "0.1"}, 90), ({"le": "1"}, 100), ({"le": "+Inf"}, 100)]}},
        3.0: {"oms": {"oms_store_backlog": 6, "oms_orders_total": [({"outcome": "ok"}, 5)],
                      "lat_bucket": [({"le": "0.1"}, 90), ({"le": "1"}, 100), ({"le": "+Inf"}, 100)]}},
    })
    read = scrapes(ops)
    backlog = MetricQuery("oms_store_backlog")

    assert aggregate(Aggregate.MAX, read, backlog) == 9
    assert aggregate(Aggregate.MIN, read, backlog) == 3
    assert aggregate(Aggregate.MEAN, read, backlog) == 6
    assert aggregate(Aggregate.LAST, read, backlog) == 6
    # 10 -> 30 is +20; the drop to 5 is a restart from zero: +5; over 2 s
    assert aggregate(Aggregate.RATE, read, MetricQuery("oms_orders_total")) == pytest.approx(12.5)
    # 90 of 100 observations at or under 0.1; the 99th is 9/10 of the way through (0.1, 1]
    assert aggregate(Aggregate.P99, read, MetricQuery("lat")) == pytest.approx(0.1 + 0.9 * 0.9)
    assert aggregate(Aggregate.MAX, read, MetricQuery("oms_nothing")) is None


def test_increase_reads_a_drop_as_a_restart() -> None:
    assert increase([1, 4, 2, 7]) == 3 + 2 + 5


def test_an_alert_fires_after_holding_for_its_for_and_resolves_at_the_first_scrape_it_does_not() -> None:
    ops = scrapes_of({
        1.0: {"a": {"oms_active": 1}},
        2.0: {"a": None},              # absent: counted as 0, below 1
        2.5: {"a": None},
        3.0: {"a": {"oms_active": 0}},
        4.0: {"a": {"oms_active": 1}},
        5.0: {"a": None},
    })
    condition = Condition(MetricQuery("oms_active", across=Across.SUM), below=1, absent=0,
                          for_ns=1_000_000_000)

    fired = firings(condition, scrapes(ops))

    # the last absent scrape (5 s) has not held for 1 s yet: pending, not fired
    assert [(firing.pending_ns, firing.fired_ns, firing.resolved_ns) for firing in fired] == [
        (ns(2.0), ns(3.0), ns(4.0))]


def test_without_absent_a_missing_series_never_fires() -> None:
    ops = scrapes_of({1.0: {"a": None}, 2.0: {"a": None}})

    assert firings(Condition(MetricQuery("oms_active"), below=1), scrapes(ops)) == []


def test_only_a_target_on_the_venue_admin_api_gets_its_bearer_token() -> None:
    targets = {"exchange": "http://127.0.0.1:9000/metrics", "oms-primary": "http://127.0.0.1:9000X/metrics",
               "oms-dr": "http://127.0.0.1:8081/metrics"}

    assert venue_headers(targets, "http://127.0.0.1:9000", "secret") == {
        "exchange": {"Authorization": "Bearer secret"}}
    assert venue_headers(targets, "http://127.0.0.1:9000", None) == {}
