from collections.abc import Sequence

import pytest

from gameday.checkers import (
    DEFAULT_CHECKERS,
    Checker,
    ContextualChecker,
    NoopChecker,
    Observation,
    Unit,
    build_registry,
    observe,
)
from gameday.history import Op


class Exploding:
    name = "explodes"
    unit = Unit.COUNT
    description = "always raises"

    def check(self, ops: Sequence[Op]) -> Observation:
        raise ZeroDivisionError("division by zero")


def test_the_default_registry_holds_every_checker_by_its_name() -> None:
    assert sorted(DEFAULT_CHECKERS) == [
        "alert.firings", "alert.time_to_fire", "alert.time_to_resolve",
        "alerts.total", "alerts.unknown_open_order",
        "breaker.entries_after_halt", "breaker.time_to_flat", "breaker.time_to_halt",
        "db.write_recovery",
        "deploy.cutover_done", "deploy.cutover_gap", "deploy.cutover_on_stale_evidence",
        "deploy.in_market_hours", "deploy.live_versions", "deploy.local_start_time", "deploy.rollback_time",
        "deploy.rollback_to_flat",
        "exposure.beyond_intended",
        "failovers.count", "failovers.database", "feeds.switch_time", "feeds.time_to_halt",
        "fills.duplicate_booked", "fills.lost",
        "killswitch.entries_while_tripped", "killswitch.time_to_flat", "killswitch.time_to_halt",
        "killswitch.time_to_resume",
        "ledger.gross_position_at_end", "ledger.open_orders_at_end",
        "load.failure_ratio", "load.p99_ms",
        "metric.last", "metric.max", "metric.mean", "metric.min", "metric.p99", "metric.rate",
        "orders.before_ghosts_alerted", "orders.client_failed", "orders.client_unknown", "orders.ghost",
        "orders.outside_band", "orders.priced_off_bad_data", "orders.resting_cancelled",
        "orders.sent_into_halt", "orders.sent_without_lease",
        "positions.divergence_bps", "positions.mismatch_bps", "replication.lag",
        "reports.delayed", "reports.dropped", "reports.duplicated", "risk.limit_breaches",
        "rto.failover", "run.stop_lines_crossed",
        "shutdown.checkpoint_written", "shutdown.exit_code", "shutdown.orders_left_open",
        "sla.desk", "sla.engine", "sla.execution", "sla.feeds", "sla.risk",
        "store.backlog_at_end", "store.rows_lost",
        "trading.available_at_end", "trading.gap", "trading.resumed_after_feed_recovery",
        "trading.unavailable_s",
        "venue.ban_refusals", "venue.banned_s", "venue.bans",
        "verifier.divergence_caught", "verifier.false_clean",
        "writers.concurrent_active",
    ]
    assert all(checker.name == name for name, checker in DEFAULT_CHECKERS.items())
    assert all(isinstance(checker, Checker) for checker in DEFAULT_CHECKERS.values())
    assert DEFAULT_CHECKERS["rto.failover"].unit is Unit.SECONDS
    contextual = sorted(name for name, checker in DEFAULT_CHECKERS.items()
                        if isinstance(checker, ContextualChecker))
    assert contextual == ["alert.firings", "alert.time_to_fire", "alert.time_to_resolve",
                          "load.failure_ratio", "load.p99_ms", "metric.last", "metric.max", "metric.mean",
                          "metric.min", "metric.p99", "metric.rate", "rto.failover"]


def test_two_checkers_with_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="two checkers are named 'noop'"):
        build_registry([NoopChecker(), NoopChecker()])


def test_the_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        DEFAULT_CHECKERS["x"] = NoopChecker()  # type: ignore[index]


def test_a_crashing_checker_yields_an_unknown_observation_with_the_error() -> None:
    observation = observe(Exploding(), [])

    assert observation.value is None
    assert observation.error == "ZeroDivisionError: division by zero"
    assert "explodes crashed" in observation.note


def test_the_noop_checker_observes_nothing() -> None:
    assert observe(NoopChecker(), []).value is None
