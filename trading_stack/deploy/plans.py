"""The batches of actions the deployer runs, each in order, as pure functions of its config."""

from __future__ import annotations

from trading_stack.defects import Defect
from trading_stack.deploy.actions import (
    DeployAction,
    HoldTraffic,
    InstanceRole,
    Launch,
    RestorePositions,
    SetRole,
    SetUpstreams,
    StopInstance,
    Unwind,
    Upstream,
)
from trading_stack.deploy.config import DeployConfig, DeployMode
from trading_stack.deploy.versions import OmsVersion

__all__ = [
    "abort_plan",
    "canary_promotion_plan",
    "complete_plan",
    "cutover_plan",
    "finish_split_plan",
    "launch_plan",
    "resume_blue_plan",
    "rollback_plan",
    "split_plan",
]

Plan = tuple[DeployAction, ...]


def _only(instance: str) -> SetUpstreams:
    return SetUpstreams(upstreams=(Upstream(instance=instance, weight=100),))


def launch_plan(config: DeployConfig, version: OmsVersion) -> Plan:
    """Blue-green: green in shadow. Canary: green live under a lease of its own, a share of the flow."""
    if config.effective_mode is DeployMode.CANARY:
        share = config.canary_percent
        return (
            Launch(instance=config.green, version=version, role=InstanceRole.ACTIVE, own_lease=True),
            SetUpstreams(upstreams=(
                Upstream(instance=config.blue, weight=100 - share),
                Upstream(instance=config.green, weight=share),
            )),
        )
    return (Launch(instance=config.green, version=version, role=InstanceRole.SHADOW),)


def cutover_plan(config: DeployConfig) -> Plan:
    """All order traffic moves in one step: hold, blue parked, green active, one upstream swap."""
    return (
        HoldTraffic(hold_s=config.hold_s),
        SetRole(instance=config.blue, role=InstanceRole.PARKED),
        SetRole(instance=config.green, role=InstanceRole.ACTIVE),
        _only(config.green),
    )


def split_plan(config: DeployConfig) -> Plan:
    """Defect ``non-atomic-cutover``, first step: green joins the upstream set beside blue."""
    return (SetUpstreams(upstreams=(
        Upstream(instance=config.blue, weight=50), Upstream(instance=config.green, weight=50),
    )),)


def finish_split_plan(config: DeployConfig) -> Plan:
    """Defect ``non-atomic-cutover``, second step: only now is green made active and blue removed."""
    return (
        SetRole(instance=config.blue, role=InstanceRole.PARKED),
        SetRole(instance=config.green, role=InstanceRole.ACTIVE),
        _only(config.green),
    )


def canary_promotion_plan(config: DeployConfig) -> Plan:
    return (SetRole(instance=config.blue, role=InstanceRole.PARKED), _only(config.green))


def rollback_plan(config: DeployConfig) -> Plan:
    """Blue back (seed 003): its positions are restored from the database and checked against the
    venue, then, active again but before it takes traffic, it cancels every open order (green's
    resting ones included: restoring adopted them) and flattens the book."""
    restore: Plan = () if config.has(Defect.ROLLBACK_WITHOUT_RESTORE) else (
        RestorePositions(instance=config.blue),
    )
    unwind: Plan = () if config.has(Defect.ROLLBACK_WITHOUT_UNWIND) else (
        Unwind(instance=config.blue, timeout_s=config.unwind_timeout_s),
    )
    return (
        HoldTraffic(hold_s=config.hold_s + config.unwind_timeout_s),
        SetRole(instance=config.green, role=InstanceRole.PARKED),
        *restore,
        SetRole(instance=config.blue, role=InstanceRole.ACTIVE),
        *unwind,
        _only(config.blue),
        StopInstance(instance=config.green),
    )


def abort_plan(config: DeployConfig) -> Plan:
    """Before green took traffic: stop it and make sure blue is active and the only upstream."""
    return (
        StopInstance(instance=config.green),
        SetRole(instance=config.blue, role=InstanceRole.ACTIVE),
        _only(config.blue),
    )


def resume_blue_plan(config: DeployConfig) -> Plan:
    """A cutover that failed before green was asked to take over: blue keeps (or takes back) the
    traffic, and only once it has is green stopped. Nothing is parked: if blue cannot be resumed
    (it died), the batch ends there and green is left in shadow."""
    return (
        SetRole(instance=config.blue, role=InstanceRole.ACTIVE),
        _only(config.blue),
        StopInstance(instance=config.green),
    )


def complete_plan(config: DeployConfig) -> Plan:
    return (StopInstance(instance=config.blue),)
