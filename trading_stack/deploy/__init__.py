"""Deployment control plane of the reference stack (pure logic; time is always passed in).

- :mod:`~trading_stack.deploy.versions`: OMS builds 1.4.2 / 1.4.3 and the position keeper.
- :mod:`~trading_stack.deploy.verifier`: dark-launch verifier (per-event diff, shadow lag).
- :mod:`~trading_stack.deploy.market_clock`, :mod:`~trading_stack.deploy.scheduler`: exchange
  hours and deploy windows guarded by the market clock and traded volume.
- :mod:`~trading_stack.deploy.breaker`: circuit breaker and kill switch.
- :mod:`~trading_stack.deploy.deployer`: blue-green / canary state machine; its actions
  (:mod:`~trading_stack.deploy.actions`) are run by :mod:`~trading_stack.deploy.driver`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trading_stack.deploy.actions import (
        ActionKind,
        ActionOutcome,
        DeployAction,
        Executor,
        InstanceRole,
        NoopExecutor,
        RecordingExecutor,
    )
    from trading_stack.deploy.breaker import BreakerConfig, CircuitBreaker, Trip, TripReason
    from trading_stack.deploy.config import DeployConfig, DeployMode
    from trading_stack.deploy.deployer import Deployer
    from trading_stack.deploy.driver import DeployDriver, run_batch
    from trading_stack.deploy.market_clock import MarketClock, MarketPhase, TradingHours
    from trading_stack.deploy.positions import Position, VenueFill, apply_fill
    from trading_stack.deploy.scheduler import DeploySchedule, DeployScheduler, GateReason, VolumeMeter
    from trading_stack.deploy.timeline import DeployEvent, DeployInput, DeployPhase, DeployReason, Step
    from trading_stack.deploy.verifier import (
        Color,
        EventOutput,
        Verdict,
        Verification,
        Verifier,
        VerifierConfig,
    )
    from trading_stack.deploy.versions import OmsVersion, PositionKeeper, build_for

__all__ = [
    "ActionKind",
    "ActionOutcome",
    "BreakerConfig",
    "CircuitBreaker",
    "Color",
    "DeployAction",
    "DeployConfig",
    "DeployDriver",
    "DeployEvent",
    "DeployInput",
    "DeployMode",
    "DeployPhase",
    "DeployReason",
    "DeploySchedule",
    "DeployScheduler",
    "Deployer",
    "EventOutput",
    "Executor",
    "GateReason",
    "InstanceRole",
    "MarketClock",
    "MarketPhase",
    "NoopExecutor",
    "OmsVersion",
    "Position",
    "PositionKeeper",
    "RecordingExecutor",
    "Step",
    "TradingHours",
    "Trip",
    "TripReason",
    "VenueFill",
    "Verdict",
    "Verification",
    "Verifier",
    "VerifierConfig",
    "VolumeMeter",
    "apply_fill",
    "build_for",
    "run_batch",
]

# Imported on first use, so a plain OMS importing one submodule (positions, outputs) does not pay for
# the deployer's modules.
_HOMES: dict[str, str] = {
    "ActionKind": "trading_stack.deploy.actions",
    "ActionOutcome": "trading_stack.deploy.actions",
    "BreakerConfig": "trading_stack.deploy.breaker",
    "CircuitBreaker": "trading_stack.deploy.breaker",
    "Color": "trading_stack.deploy.verifier",
    "DeployAction": "trading_stack.deploy.actions",
    "DeployConfig": "trading_stack.deploy.config",
    "DeployDriver": "trading_stack.deploy.driver",
    "DeployEvent": "trading_stack.deploy.timeline",
    "DeployInput": "trading_stack.deploy.timeline",
    "DeployMode": "trading_stack.deploy.config",
    "DeployPhase": "trading_stack.deploy.timeline",
    "DeployReason": "trading_stack.deploy.timeline",
    "DeploySchedule": "trading_stack.deploy.scheduler",
    "DeployScheduler": "trading_stack.deploy.scheduler",
    "Deployer": "trading_stack.deploy.deployer",
    "EventOutput": "trading_stack.deploy.verifier",
    "Executor": "trading_stack.deploy.actions",
    "GateReason": "trading_stack.deploy.scheduler",
    "InstanceRole": "trading_stack.deploy.actions",
    "MarketClock": "trading_stack.deploy.market_clock",
    "MarketPhase": "trading_stack.deploy.market_clock",
    "NoopExecutor": "trading_stack.deploy.actions",
    "OmsVersion": "trading_stack.deploy.versions",
    "Position": "trading_stack.deploy.positions",
    "PositionKeeper": "trading_stack.deploy.versions",
    "RecordingExecutor": "trading_stack.deploy.actions",
    "Step": "trading_stack.deploy.timeline",
    "TradingHours": "trading_stack.deploy.market_clock",
    "Trip": "trading_stack.deploy.breaker",
    "TripReason": "trading_stack.deploy.breaker",
    "VenueFill": "trading_stack.deploy.positions",
    "Verdict": "trading_stack.deploy.verifier",
    "Verification": "trading_stack.deploy.verifier",
    "Verifier": "trading_stack.deploy.verifier",
    "VerifierConfig": "trading_stack.deploy.verifier",
    "VolumeMeter": "trading_stack.deploy.scheduler",
    "apply_fill": "trading_stack.deploy.positions",
    "build_for": "trading_stack.deploy.versions",
    "run_batch": "trading_stack.deploy.driver",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
