"""Bodies of the deploy admin routes of the OMS (docs/deploy.md §2.2-§2.3)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from trading_stack.deploy.actions import InstanceRole
from trading_stack.deploy.versions import OmsVersion


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LaunchRequest(_Body):
    """``POST /admin/launch``: a dormant instance starts as ``version`` in ``role``."""

    version: OmsVersion
    role: Literal[InstanceRole.SHADOW, InstanceRole.ACTIVE]
    own_lease: bool = False


class RoleRequest(_Body):
    """``POST /admin/role``: the deployer moves an instance between active and parked."""

    role: Literal[InstanceRole.ACTIVE, InstanceRole.PARKED]


class UnwindRequest(_Body):
    """``POST /admin/unwind``: the active instance cancels every open order and flattens (bounded)."""

    timeout_s: float = Field(default=5.0, gt=0, le=60, allow_inf_nan=False)
