"""Configuration of the deployer: who blue and green are, the windows and the bounds."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from trading_stack.defects import Defect
from trading_stack.deploy.triggers import RollbackTriggers

__all__ = ["DeployConfig", "DeployMode"]


class DeployMode(StrEnum):
    BLUE_GREEN = "blue-green"
    CANARY = "canary"


class DeployConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    blue: str = Field(default="oms-blue", min_length=1)
    green: str = Field(default="oms-green", min_length=1)
    mode: DeployMode = DeployMode.BLUE_GREEN
    verification_window_s: float = Field(default=10.0, gt=0, description="shadow time before a cutover")
    verification_deadline_s: float = Field(default=60.0, gt=0, description="abort if not clean by then")
    report_max_age_s: float = Field(default=2.0, gt=0, description="health and verdicts older are ignored")
    hold_s: float = Field(default=2.0, gt=0, description="front-door hold during a cutover or rollback")
    rollback_window_s: float = Field(default=60.0, gt=0, description="blue stays parked this long")
    canary_percent: int = Field(default=10, ge=1, le=99)
    canary_window_s: float = Field(default=20.0, gt=0)
    split_window_s: float = Field(default=2.0, gt=0, description="defect non-atomic-cutover: both live")
    reject_limit: int = Field(default=3, ge=0, description="more green rejects in the window roll back")
    reject_window_s: float = Field(default=5.0, gt=0)
    triggers: RollbackTriggers = Field(default_factory=RollbackTriggers,
                                       description="P&L, slippage and ack-latency bounds (off when absent)")
    unwind_timeout_s: float = Field(default=5.0, gt=0, le=30,
                                    description="bound on a rollback's cancel-all and flatten on blue")
    defects: tuple[Defect, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> DeployConfig:
        if self.blue == self.green:
            raise ValueError(f"expected two instances, got blue = green = {self.blue!r}")
        if self.verification_deadline_s < self.verification_window_s:
            raise ValueError(
                f"expected verification_deadline_s >= verification_window_s, "
                f"got {self.verification_deadline_s} < {self.verification_window_s}"
            )
        return self

    def has(self, defect: Defect) -> bool:
        return defect in self.defects

    @property
    def effective_mode(self) -> DeployMode:
        return DeployMode.CANARY if self.has(Defect.CANARY_DEPLOY) else self.mode
