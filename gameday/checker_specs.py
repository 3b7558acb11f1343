"""The default checkers as specs: each one's name, unit and the expectation options it takes.

The one place a default checker's name and options are written. Each checker implementation carries
its spec (:class:`gameday.checkers.base.Specified`), so the default registry's names, units and
options are these; scenario validation reads :data:`CHECKER_CATALOG` without importing the checkers
themselves (their records and models would be most of ``gameday validate``'s time). A leaf module,
like :mod:`gameday.units`.

A new checker is one spec here, given to its implementation, which the default registry lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from gameday.units import Unit

__all__ = ["CHECKER_CATALOG", "METRIC_AGGREGATE_SPECS", "REPORT_FATE_SPECS", "CheckerSpec"]

WINDOW_OPTIONS = frozenset({"during", "after", "grace"})
"""``during`` / ``after`` a fault, opened ``grace`` late"""
SERIES_OPTIONS = frozenset({"metric", "labels", "across"})
"""the series of a scraped metric"""


@dataclass(frozen=True)
class CheckerSpec:
    """A checker as validation sees it: its unit and the expectation keys it takes beside the bound."""

    name: str
    unit: Unit
    options: frozenset[str] = frozenset()
    required_options: frozenset[str] = frozenset()
    """the options an expectation on it must give (a metric's name, an alert's)"""


_BY_NAME: dict[str, CheckerSpec] = {}


def _spec(name: str, unit: Unit, options: frozenset[str] = frozenset(),
          required_options: frozenset[str] = frozenset()) -> CheckerSpec:
    if name in _BY_NAME:
        raise ValueError(f"two checker specs are named {name!r}")
    spec = _BY_NAME[name] = CheckerSpec(name, unit, options, required_options)
    return spec


RTO_FAILOVER = _spec("rto.failover", Unit.SECONDS, frozenset({"from", "hold"}))
POSITIONS_MISMATCH_BPS = _spec("positions.mismatch_bps", Unit.BPS)
POSITIONS_DIVERGENCE_BPS = _spec("positions.divergence_bps", Unit.BPS)
ORDERS_GHOST = _spec("orders.ghost", Unit.COUNT)
WRITERS_CONCURRENT_ACTIVE = _spec("writers.concurrent_active", Unit.COUNT)
ORDERS_CLIENT_FAILED = _spec("orders.client_failed", Unit.COUNT)
ORDERS_CLIENT_UNKNOWN = _spec("orders.client_unknown", Unit.COUNT)
FAILOVERS_COUNT = _spec("failovers.count", Unit.COUNT)
FAILOVERS_DATABASE = _spec("failovers.database", Unit.COUNT)

TRADING_GAP = _spec("trading.gap", Unit.SECONDS)
TRADING_UNAVAILABLE_S = _spec("trading.unavailable_s", Unit.SECONDS)
TRADING_AVAILABLE_AT_END = _spec("trading.available_at_end", Unit.COUNT)
ORDERS_SENT_WITHOUT_LEASE = _spec("orders.sent_without_lease", Unit.COUNT)
FILLS_DUPLICATE_BOOKED = _spec("fills.duplicate_booked", Unit.COUNT)
ALERTS_UNKNOWN_OPEN_ORDER = _spec("alerts.unknown_open_order", Unit.COUNT)
ORDERS_BEFORE_GHOSTS_ALERTED = _spec("orders.before_ghosts_alerted", Unit.COUNT)
ALERTS_TOTAL = _spec("alerts.total", Unit.COUNT)
REPLICATION_LAG = _spec("replication.lag", Unit.SECONDS)
RISK_LIMIT_BREACHES = _spec("risk.limit_breaches", Unit.COUNT)
ORDERS_RESTING_CANCELLED = _spec("orders.resting_cancelled", Unit.COUNT)

DEPLOY_CUTOVER_DONE = _spec("deploy.cutover_done", Unit.COUNT)
DEPLOY_CUTOVER_GAP = _spec("deploy.cutover_gap", Unit.SECONDS)
DEPLOY_LIVE_VERSIONS = _spec("deploy.live_versions", Unit.COUNT)
DEPLOY_ROLLBACK_TIME = _spec("deploy.rollback_time", Unit.SECONDS)
DEPLOY_ROLLBACK_TO_FLAT = _spec("deploy.rollback_to_flat", Unit.SECONDS)
DEPLOY_IN_MARKET_HOURS = _spec("deploy.in_market_hours", Unit.COUNT)
DEPLOY_CUTOVER_ON_STALE_EVIDENCE = _spec("deploy.cutover_on_stale_evidence", Unit.COUNT)
DEPLOY_LOCAL_START_TIME = _spec("deploy.local_start_time", Unit.COUNT)
VERIFIER_FALSE_CLEAN = _spec("verifier.false_clean", Unit.COUNT)
VERIFIER_DIVERGENCE_CAUGHT = _spec("verifier.divergence_caught", Unit.COUNT)
BREAKER_TIME_TO_HALT = _spec("breaker.time_to_halt", Unit.SECONDS)
BREAKER_TIME_TO_FLAT = _spec("breaker.time_to_flat", Unit.SECONDS)
BREAKER_ENTRIES_AFTER_HALT = _spec("breaker.entries_after_halt", Unit.COUNT)

FILLS_LOST = _spec("fills.lost", Unit.COUNT)
DB_WRITE_RECOVERY = _spec("db.write_recovery", Unit.SECONDS)
STORE_ROWS_LOST = _spec("store.rows_lost", Unit.COUNT)
STORE_BACKLOG_AT_END = _spec("store.backlog_at_end", Unit.COUNT)
LOAD_FAILURE_RATIO = _spec("load.failure_ratio", Unit.RATIO, WINDOW_OPTIONS)
LOAD_P99_MS = _spec("load.p99_ms", Unit.MILLISECONDS, WINDOW_OPTIONS)

FEEDS_SWITCH_TIME = _spec("feeds.switch_time", Unit.SECONDS)
ORDERS_PRICED_OFF_BAD_DATA = _spec("orders.priced_off_bad_data", Unit.COUNT)
FEEDS_TIME_TO_HALT = _spec("feeds.time_to_halt", Unit.SECONDS)
TRADING_RESUMED_AFTER_FEED_RECOVERY = _spec("trading.resumed_after_feed_recovery", Unit.COUNT)

SHUTDOWN_ORDERS_LEFT_OPEN = _spec("shutdown.orders_left_open", Unit.COUNT)
SHUTDOWN_CHECKPOINT_WRITTEN = _spec("shutdown.checkpoint_written", Unit.COUNT)
SHUTDOWN_EXIT_CODE = _spec("shutdown.exit_code", Unit.COUNT)
KILLSWITCH_ENTRIES_WHILE_TRIPPED = _spec("killswitch.entries_while_tripped", Unit.COUNT)
KILLSWITCH_TIME_TO_HALT = _spec("killswitch.time_to_halt", Unit.SECONDS)
KILLSWITCH_TIME_TO_FLAT = _spec("killswitch.time_to_flat", Unit.SECONDS)
KILLSWITCH_TIME_TO_RESUME = _spec("killswitch.time_to_resume", Unit.SECONDS)
EXPOSURE_BEYOND_INTENDED = _spec("exposure.beyond_intended", Unit.RATIO)

REPORT_FATE_SPECS: Mapping[str, CheckerSpec] = MappingProxyType(
    {fate: _spec(f"reports.{fate}", Unit.COUNT) for fate in ("dropped", "duplicated", "delayed")})
"""``reports.<fate>`` by the fate the venue dealt a report"""
METRIC_AGGREGATE_SPECS: Mapping[str, CheckerSpec] = MappingProxyType(
    {how: _spec(f"metric.{how}", Unit.VALUE, SERIES_OPTIONS | WINDOW_OPTIONS, frozenset({"metric"}))
     for how in ("max", "min", "mean", "last", "p99", "rate")})
"""``metric.<aggregate>`` by the aggregate (:class:`gameday.metrics.aggregates.Aggregate`)"""
ALERT_TIME_TO_FIRE = _spec("alert.time_to_fire", Unit.SECONDS, frozenset({"alert", "from"}),
                           frozenset({"alert", "from"}))
ALERT_TIME_TO_RESOLVE = _spec("alert.time_to_resolve", Unit.SECONDS, frozenset({"alert", "from"}),
                              frozenset({"alert", "from"}))
ALERT_FIRINGS = _spec("alert.firings", Unit.COUNT, WINDOW_OPTIONS | {"alert"}, frozenset({"alert"}))
SLA_ENGINE = _spec("sla.engine", Unit.RATIO)
SLA_DESK = _spec("sla.desk", Unit.RATIO)
SLA_EXECUTION = _spec("sla.execution", Unit.RATIO)
SLA_RISK = _spec("sla.risk", Unit.RATIO)
SLA_FEEDS = _spec("sla.feeds", Unit.RATIO)

RUN_STOP_LINES_CROSSED = _spec("run.stop_lines_crossed", Unit.COUNT)
LEDGER_OPEN_ORDERS_AT_END = _spec("ledger.open_orders_at_end", Unit.COUNT)
LEDGER_GROSS_POSITION_AT_END = _spec("ledger.gross_position_at_end", Unit.COUNT)
VENUE_BANS = _spec("venue.bans", Unit.COUNT)
VENUE_BANNED_S = _spec("venue.banned_s", Unit.SECONDS)
VENUE_BAN_REFUSALS = _spec("venue.ban_refusals", Unit.COUNT)
ORDERS_SENT_INTO_HALT = _spec("orders.sent_into_halt", Unit.COUNT)
ORDERS_OUTSIDE_BAND = _spec("orders.outside_band", Unit.COUNT)

CHECKER_CATALOG: Mapping[str, CheckerSpec] = MappingProxyType(_BY_NAME)
"""Checkers by name: the registry scenarios' ``expect`` keys are looked up in."""
