"""What scenario validation knows of the default checkers: each one's name, unit and options.

Validating a scenario's ``expect`` needs no more than this, and importing the checkers themselves
(every checker's records and models) would be most of ``gameday validate``'s time. The catalog is
kept equal to the default registry (:data:`gameday.checkers.DEFAULT_CHECKERS`) by a unit test: a new
checker is added to both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from gameday.units import Unit

__all__ = ["CHECKER_CATALOG", "CheckerSpec"]

WINDOW_OPTIONS = frozenset({"during", "after", "grace"})
METRIC_OPTIONS = WINDOW_OPTIONS | {"metric", "labels", "across"}
METRIC_AGGREGATES = ("last", "max", "mean", "min", "p99", "rate")


@dataclass(frozen=True)
class CheckerSpec:
    """A checker as validation sees it: its unit and the expectation keys it takes beside the bound."""

    name: str
    unit: Unit
    options: frozenset[str] = frozenset()
    required_options: frozenset[str] = frozenset()
    """the options an expectation on it must give (a metric's name, an alert's)"""


_SECONDS = ("trading.gap", "trading.unavailable_s", "replication.lag", "deploy.cutover_gap",
            "deploy.rollback_time", "breaker.time_to_halt", "breaker.time_to_flat", "db.write_recovery",
            "feeds.switch_time", "feeds.time_to_halt", "deploy.rollback_to_flat", "killswitch.time_to_flat",
            "killswitch.time_to_halt", "killswitch.time_to_resume", "venue.banned_s")
_BPS = ("positions.mismatch_bps", "positions.divergence_bps")
_COUNTS = ("orders.ghost", "writers.concurrent_active", "orders.client_failed", "orders.client_unknown",
           "failovers.count", "failovers.database", "trading.available_at_end", "orders.sent_without_lease",
           "fills.duplicate_booked", "alerts.unknown_open_order", "orders.before_ghosts_alerted",
           "alerts.total", "risk.limit_breaches", "orders.resting_cancelled", "deploy.live_versions",
           "deploy.cutover_done", "deploy.in_market_hours", "verifier.false_clean",
           "verifier.divergence_caught", "breaker.entries_after_halt", "deploy.cutover_on_stale_evidence",
           "deploy.local_start_time", "fills.lost", "store.rows_lost", "store.backlog_at_end",
           "orders.priced_off_bad_data", "trading.resumed_after_feed_recovery",
           "killswitch.entries_while_tripped", "reports.delayed", "reports.dropped", "reports.duplicated",
           "shutdown.checkpoint_written", "shutdown.exit_code", "shutdown.orders_left_open",
           "ledger.gross_position_at_end", "ledger.open_orders_at_end", "run.stop_lines_crossed",
           "venue.bans", "venue.ban_refusals", "orders.outside_band", "orders.sent_into_halt")
_RATIOS = ("exposure.beyond_intended", "sla.desk", "sla.engine", "sla.execution", "sla.feeds", "sla.risk")

CHECKER_CATALOG: Mapping[str, CheckerSpec] = MappingProxyType({spec.name: spec for spec in (
    CheckerSpec("rto.failover", Unit.SECONDS, frozenset({"from", "hold"})),
    *(CheckerSpec(name, Unit.SECONDS) for name in _SECONDS),
    *(CheckerSpec(name, Unit.BPS) for name in _BPS),
    *(CheckerSpec(name, Unit.COUNT) for name in _COUNTS),
    *(CheckerSpec(name, Unit.RATIO) for name in _RATIOS),
    *(CheckerSpec(f"metric.{aggregate}", Unit.VALUE, METRIC_OPTIONS, frozenset({"metric"}))
      for aggregate in METRIC_AGGREGATES),
    CheckerSpec("alert.firings", Unit.COUNT, WINDOW_OPTIONS | {"alert"}, frozenset({"alert"})),
    *(CheckerSpec(f"alert.{name}", Unit.SECONDS, frozenset({"alert", "from"}), frozenset({"alert", "from"}))
      for name in ("time_to_fire", "time_to_resolve")),
    CheckerSpec("load.failure_ratio", Unit.RATIO, WINDOW_OPTIONS),
    CheckerSpec("load.p99_ms", Unit.MILLISECONDS, WINDOW_OPTIONS),
)})
