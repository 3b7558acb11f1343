"""Configuration of the deployer process (``python -m trading_stack.deploy.service``)."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from trading_stack.defects import Defect
from trading_stack.deploy.config import DeployConfig
from trading_stack.deploy.market_clock import DEFAULT_EXCHANGE_TZ, MarketClock, TradingHours, zone
from trading_stack.deploy.scheduler import DeploySchedule
from trading_stack.deploy.verifier import VerifierConfig
from trading_stack.deploy.versions import OmsVersion

__all__ = ["ClockSpec", "DeployerServiceConfig", "OmsAdminUrls"]

_Part = TypeVar("_Part", DeployConfig, VerifierConfig, DeploySchedule)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClockSpec(_Frozen):
    """The scenario's market clock: exchange-local ``start`` (no zone) at monotonic ``anchor_ns``."""

    start: datetime
    tz: str = DEFAULT_EXCHANGE_TZ
    rate: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    anchor_ns: int = Field(ge=0)

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        zone(name)
        return name

    def market_clock(self) -> MarketClock:
        hours = TradingHours(tz=self.tz)
        return MarketClock.starting_at(self.start.replace(tzinfo=None), self.anchor_ns, self.rate, hours)


class OmsAdminUrls(_Frozen):
    """Base URLs of the two OMS instances' APIs (``deploy.blue`` and ``deploy.green``)."""

    blue: HttpUrl
    green: HttpUrl


class DeployerServiceConfig(_Frozen):
    host: str = "127.0.0.1"
    http_port: int = Field(ge=0, le=65535)
    admin_token: str = Field(min_length=1, description="guards this API; also sent to the OMS and front door")
    nats_url: str
    subject_prefix: str = "oms"
    stream: str = "OMS"
    front_door_admin_url: HttpUrl
    oms_admin_urls: OmsAdminUrls
    deploy: DeployConfig = DeployConfig()
    verifier: VerifierConfig = VerifierConfig()
    schedule: DeploySchedule | None = None
    scheduled_version: OmsVersion = Field(default=OmsVersion.V1_4_3,
                                          description="what a scheduled deploy ships")
    clock: ClockSpec | None = Field(default=None, description="None: the real clock, in the exchange's zone")
    tick_interval_s: float = Field(default=0.1, gt=0)
    health_interval_s: float = Field(default=0.25, gt=0)
    verdict_interval_s: float = Field(default=1.0, gt=0)
    action_timeout_s: float = Field(default=15.0, gt=0, description="bound on each OMS / front-door call")
    defects: tuple[Defect, ...] = Field(default=(),
                                        description="added to the deploy, verifier and schedule defects")

    def with_defects(self, part: _Part) -> _Part:
        """``part`` (the deploy, verifier or schedule config) with this process's defects added."""
        return part.model_copy(update={"defects": tuple(dict.fromkeys((*part.defects, *self.defects)))})
