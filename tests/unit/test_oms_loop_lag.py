"""Loop-lag percentiles (nearest rank) and the monitor's window."""

from __future__ import annotations

from trading_stack.loop_lag import LoopLagMonitor, summarize


def test_nearest_rank_percentiles() -> None:
    summary = summarize([float(v) for v in range(1, 101)])
    assert (summary.p50_ms, summary.p99_ms, summary.max_ms, summary.samples) == (50.0, 99.0, 100.0, 100)


def test_no_samples_is_all_zero() -> None:
    assert summarize([]).as_dict() == {"p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0, "samples": 0}


def test_the_window_forgets_old_samples_but_the_worst_is_kept() -> None:
    monitor = LoopLagMonitor(interval_s=0.1, window_s=0.5)
    monitor.record(900.0)
    for _ in range(5):
        monitor.record(1.0)
    assert monitor.summary().max_ms == 1.0
    assert monitor.worst_ms == 900.0
