"""Known defects of the reference stack: each reproduces an incident the correct stack prevents.

A module of its own so that configuration models anywhere in ``trading_stack`` (including the
deploy control plane, whose models ``OmsConfig`` embeds) can name them without an import cycle.
"""

from __future__ import annotations

from enum import StrEnum


class Defect(StrEnum):
    NO_PROMOTION = "no-promotion"
    NO_FENCING = "no-fencing"
    SHALLOW_HEALTH = "shallow-health"
    NO_FILL_RECONCILE = "no-fill-reconcile"
    NO_LOGON_RETRY = "no-logon-retry"
    SINGLE_VANTAGE_HEALTH = "single-vantage-health"
    NO_DB_SYNC_ON_PROMOTION = "no-db-sync-on-promotion"
    NO_DB_RECONNECT = "no-db-reconnect"
    # verdicts that hold (issue 10)
    NO_REPROMOTION = "no-repromotion"  # the failover daemon never promotes again after its first failover
    NO_EXECUTION_RECOVERY = "no-execution-recovery"  # missed executions never read (promotion, drop copy)
    # deployment game days (issue 5)
    CANARY_DEPLOY = "canary-deploy"
    NON_ATOMIC_CUTOVER = "non-atomic-cutover"
    VERIFIER_IGNORES_LAG = "verifier-ignores-lag"
    NO_STARTUP_RECONCILE = "no-startup-reconcile"
    ROLLBACK_WITHOUT_RESTORE = "rollback-without-restore"
    ROLLBACK_WITHOUT_UNWIND = "rollback-without-unwind"  # a rollback leaves green's orders and positions
    NO_MARKET_HOURS_GUARD = "no-market-hours-guard"
    BREAKER_DISABLED = "breaker-disabled"
    NO_AUTO_ROLLBACK = "no-auto-rollback"
    DEPLOY_IGNORES_BLUE_HEALTH = "deploy-ignores-blue-health"
    # market data (issue 16)
    NO_FEED_FAILOVER = "no-feed-failover"  # the OMS stays on the primary feed whatever happens to it
    NO_DIVERGENCE_CHECK = "no-divergence-check"  # feeds are never compared: a diverged feed is traded on
    NO_FEED_BREAKER = "no-feed-breaker"  # no usable feed: trades on, priced off the last known prices
    # the seeds' incidents (issue 17)
    EXIT_ON_SIGTERM = "exit-on-sigterm"  # SIGTERM stops the process at once: no cancel, no checkpoint, exit 0
    KILL_SWITCH_IN_MEMORY = "kill-switch-in-memory"  # a trip lives in one process: a successor trades again
    # observability (issue 19)
    ACTIVE_GAUGE_ALWAYS_ON = "active-gauge-always-on"  # every OMS instance says oms_active 1 (a lying metric)
    # session setup and rate limits (issue 17)
    SLOW_PROMOTION = "slow-promotion"  # a promotion sets up a query session, then a trading session
    NO_CLIENT_THROTTLE = "no-client-throttle"  # orders go out as fast as they come: the venue bans them
    # halts and price bands (issue 17)
    RETRIES_INTO_HALT = "retries-into-halt"  # venue halts ignored; a halt or band reject is sent again
