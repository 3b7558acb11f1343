"""Deployment control plane of the reference stack (pure logic; time is always passed in).

- :mod:`~trading_stack.deploy.versions`: OMS builds 1.4.2 / 1.4.3 and the position keeper.
- :mod:`~trading_stack.deploy.verifier`: dark-launch verifier (per-event diff, shadow lag).
- :mod:`~trading_stack.deploy.market_clock`, :mod:`~trading_stack.deploy.scheduler`: exchange
  hours and deploy windows guarded by the market clock and traded volume.
- :mod:`~trading_stack.deploy.breaker`: circuit breaker and kill switch.
- :mod:`~trading_stack.deploy.deployer`: blue-green / canary state machine; its actions
  (:mod:`~trading_stack.deploy.actions`) are run by :mod:`~trading_stack.deploy.driver`.
"""

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
from trading_stack.deploy.verifier import Color, EventOutput, Verdict, Verification, Verifier, VerifierConfig
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
