"""The reference target: its known defects, its builds, its deployer's scenario sections, its stacks."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from trading_stack.defects import Defect

if TYPE_CHECKING:
    from gameday.stack.protocol import Stack
    from gameday.stack.settings import StackSettings

__all__ = ["DEFECTS", "TARGET", "ReferenceTarget"]

DEFECTS: Mapping[str, str] = {
    Defect.NO_PROMOTION: "the failover daemon never promotes the DR",
    Defect.NO_FENCING: "an instance keeps trading without the lease (two writers)",
    Defect.SHALLOW_HEALTH: "health says ready as soon as the process answers",
    Defect.NO_FILL_RECONCILE: "the venue's fills are never read (no reconcile on promotion, no drop-copy)",
    Defect.NO_LOGON_RETRY: "a refused FIX logon is never retried",
    Defect.SINGLE_VANTAGE_HEALTH: "the failover daemon trusts one vantage point",
    Defect.NO_DB_SYNC_ON_PROMOTION: "a promotion does not sync state out of band (stale risk limits)",
    Defect.NO_DB_RECONNECT: "the OMS never reconnects to the database",
    Defect.NO_REPROMOTION: "the failover daemon never promotes again after its first failover",
    Defect.NO_EXECUTION_RECOVERY: ("the OMS never asks the venue for the executions it missed: not on a "
                                   "promotion, nor from the drop copy while active"),
    Defect.CANARY_DEPLOY: "a deploy launches green as a canary taking live flow beside blue",
    Defect.NON_ATOMIC_CUTOVER: "a cutover splits flow 50/50 between blue and green before it switches",
    Defect.VERIFIER_IGNORES_LAG: "the dark-launch verifier ignores green's lag",
    Defect.NO_STARTUP_RECONCILE: "an instance skips reconciliation on start (positions from its own store)",
    Defect.ROLLBACK_WITHOUT_RESTORE: "a rollback resumes blue with the book it had when it was parked",
    Defect.ROLLBACK_WITHOUT_UNWIND: "a rollback leaves green's open orders and positions as they are",
    Defect.NO_MARKET_HOURS_GUARD: "the deployer deploys in market hours",
    Defect.BREAKER_DISABLED: "the deploy's circuit breaker never trips",
    Defect.NO_AUTO_ROLLBACK: "no trigger (rejects, P&L, slippage, ack latency) rolls a deploy back",
    Defect.DEPLOY_IGNORES_BLUE_HEALTH: "the deployer cuts over without checking blue's health",
    Defect.NO_FEED_FAILOVER: "the OMS stays on the primary market-data feed whatever happens to it",
    Defect.NO_DIVERGENCE_CHECK: "the OMS never compares its feeds: it prices orders off a diverged feed",
    Defect.NO_FEED_BREAKER: "with no usable feed the OMS trades on, priced off the last known prices",
    Defect.EXIT_ON_SIGTERM: "SIGTERM stops the OMS at once (exit 0): orders left working, no checkpoint",
    Defect.KILL_SWITCH_IN_MEMORY: "a kill-switch trip lives in one process: a failover or restart trades",
    Defect.ACTIVE_GAUGE_ALWAYS_ON: "every OMS instance reports oms_active 1 whatever its role",
    Defect.SLOW_PROMOTION: "a promotion logs a query session on and off before the trading session",
    Defect.NO_CLIENT_THROTTLE: "the OMS sends orders beyond the venue's published rate limit (and is banned)",
    Defect.RETRIES_INTO_HALT: "the OMS ignores venue halts and bands and sends a halt or band reject again",
}
SECTIONS: Mapping[str, tuple[str, str]] = {
    "deploy": ("trading_stack.deploy.config", "DeployConfig"),
    "schedule": ("trading_stack.deploy.scheduler", "DeploySchedule"),
    "breaker": ("trading_stack.deploy.breaker", "BreakerConfig"),
    "market_data": ("trading_stack.market_data.section", "MarketDataSection"),
}
"""Each stack section's model (module, class), imported when a scenario has the section: validating
one without them does not pay for the deployer's and the market-data modules."""


def section_model(key: str) -> type[BaseModel]:
    module, name = SECTIONS[key]
    model: type[BaseModel] = getattr(importlib.import_module(module), name)
    return model


class ReferenceTarget:
    name = "reference"
    defects: Mapping[str, str] = {str(defect): what for defect, what in DEFECTS.items()}

    @property
    def versions(self) -> tuple[str, ...]:
        from trading_stack.deploy.versions import OmsVersion  # its builds' modules: for scenarios naming one

        return tuple(version.value for version in OmsVersion)

    def section(self, key: str, value: Any) -> Any:
        if key not in SECTIONS:
            raise ValueError(f"the reference target has no stack.{key} section")
        return section_model(key).model_validate(value)

    def stack(self, settings: StackSettings) -> Stack:
        from reference_target.backends import stack_for  # the stacks' imports are for runs, not validation

        return stack_for(settings)


TARGET = ReferenceTarget()
