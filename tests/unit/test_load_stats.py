"""The load's per-second statistics: locust's rounding, percentiles, one second's record."""

from pathlib import Path

import pytest

from gameday.load.config import ChildConfig, Schedule, Stage, StatsLine
from gameday.load.stats import MAX_ERRORS, StatsWindow, merged, percentile, rounded_ms


@pytest.mark.parametrize(("response_ms", "kept"), [
    (0.4, 0), (7.6, 8), (99.4, 99), (123.0, 120), (1349.0, 1300), (14_999.0, 15_000), (-1.0, 0)])
def test_response_times_are_kept_as_locust_keeps_them(response_ms: float, kept: int) -> None:
    assert rounded_ms(response_ms) == kept


def test_a_percentile_is_the_smallest_kept_time_covering_that_share() -> None:
    histogram = {10: 90, 200: 9, 3000: 1}

    assert percentile(histogram, 0.5) == 10
    assert percentile(histogram, 0.95) == 200
    assert percentile(histogram, 0.99) == 200
    assert percentile(histogram, 1.0) == 3000
    assert percentile({}, 0.99) is None


def test_histograms_of_several_seconds_merge_into_one_window() -> None:
    window = merged([{10: 98}, {10: 1, 5000: 2}])

    assert percentile(window, 0.99) == 5000
    assert sum(window.values()) == 101


def test_a_second_is_written_per_endpoint_and_the_next_one_starts_empty() -> None:
    stats = StatsWindow()
    for response_ms in (3.0, 4.0, 5.0):
        stats.record("GET /positions", response_ms)
    stats.record("POST /orders", 250.0, error="ConnectionRefusedError(111)")

    record = stats.flush(from_ns=7, users=20)

    assert (record["from_ns"], record["users"], record["requests"], record["failures"]) == (7, 20, 4, 1)
    assert record["histogram"] == {"3": 1, "4": 1, "5": 1, "250": 1}
    assert record["p50_ms"] == 4
    assert record["p99_ms"] == 250
    assert record["endpoints"]["GET /positions"] == {"requests": 3, "failures": 0, "p50_ms": 4, "p95_ms": 5,
                                                     "p99_ms": 5}
    assert record["errors"] == {"POST /orders: ConnectionRefusedError(111)": 1}
    assert stats.empty
    assert stats.flush(from_ns=8, users=0)["requests"] == 0


def test_only_the_most_frequent_errors_are_kept_the_rest_counted() -> None:
    stats = StatsWindow()
    for number in range(MAX_ERRORS + 3):
        for _ in range(number + 1):
            stats.record("GET /x", 1.0, error=f"error {number}")

    errors = stats.flush(from_ns=0, users=1)["errors"]

    assert len(errors) == MAX_ERRORS + 1
    assert errors["other"] == 1 + 2 + 3
    assert "GET /x: error 0" not in errors


def test_the_child_config_schedule_and_stats_lines_round_trip(tmp_path: Path) -> None:
    config = ChildConfig(locustfile="/x/oms.py", host="http://127.0.0.1:1", users=3, spawn_rate=2.0,
                         stats_path="/x/stats.jsonl", seed=7, stages=(Stage(5.0, 10, 2.0),), web_ui=True)
    config.write(tmp_path / "config.json")

    assert ChildConfig.read(tmp_path / "config.json") == config
    assert Schedule.parse(Schedule(1, 2).line()) == Schedule(1, 2)
    line = StatsLine("stats", 5, {"requests": 1})
    assert StatsLine.parse(line.line()) == line
    assert StatsLine.parse('{"f": "stats", "t_ns": 5, "val') is None  # a torn last line
