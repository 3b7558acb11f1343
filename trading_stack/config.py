"""Configuration of the reference OMS and failover daemon processes."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from trading_stack.defects import Defect
from trading_stack.deploy.breaker import BreakerConfig
from trading_stack.deploy.versions import OmsVersion
from trading_stack.market_data.config import MarketDataConfig
from trading_stack.order_throttle import PublishedRateLimit

__all__ = ["DbFailoverConfig", "Defect", "FailoverConfig", "InitialRole", "OmsConfig"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InitialRole(StrEnum):
    ACTIVE = "active"
    STANDBY = "standby"
    SHADOW = "shadow"
    DORMANT = "dormant"  # serves HTTP only until POST /admin/launch (a deploy's green)


DEFAULT_LOGON_TIMEOUT_S = 6.0
"""The Logon answer is awaited this long unless configured: beyond seed 002's 5 s session setup."""


class OmsConfig(_Model):
    instance_id: str
    initial_role: InitialRole
    host: str = "127.0.0.1"
    http_port: int = Field(ge=0, le=65535)
    admin_token: str
    # venue (through the fault proxy)
    fix_host: str = "127.0.0.1"
    fix_port: int
    fix_sender_comp_id: str
    fix_target_comp_id: str = "MOCKEX"
    fix_heartbeat_s: int = 5
    order_ack_timeout_s: float = 2.0
    logon_retry_initial_s: float = 0.2
    logon_retry_max_s: float = 2.0
    drop_copy_interval_s: float = Field(
        default=2.0, gt=0, description="while active: how often the venue's drop copy is read for "
        "executions whose reports never arrived")
    fix_logon_timeout_s: float | None = Field(
        default=None, gt=0, description="the venue's Logon answer is awaited this long (it must outlast "
        "the venue's session setup, seed 002: 2-5 s); None: the order ack timeout, at least "
        "DEFAULT_LOGON_TIMEOUT_S (a session set up mid-day takes up to 5 s)")
    venue_rate_limit: PublishedRateLimit | None = Field(
        default=None, description="the venue's published new-order limit: the client-side throttle's size")
    # NATS (through the fault proxy)
    nats_url: str
    subject_prefix: str = "oms"
    stream: str = "OMS"
    lease_bucket: str = "oms_lease"
    lease_ttl_s: float = 2.0
    lease_renew_interval_s: float = 0.4
    lease_safety_margin_s: float = 0.5
    # Postgres (through the fault proxy)
    database_dsn: str = Field(repr=False)  # it holds the database password
    db_connect_timeout_s: float = Field(default=1.0, gt=0, description="per host of the DSN, per attempt")
    db_sync_deadline_s: float = Field(
        default=6.0, gt=0, description="promotion: the database sync is retried until then, else no trading"
    )
    # deployment (docs/deploy.md §2)
    version: OmsVersion = OmsVersion.V1_4_2
    breaker: BreakerConfig | None = None
    shutdown_cancel_timeout_s: float = Field(default=10.0, gt=0, description="SIGTERM: cancel-all bound")
    shutdown_fill_wait_s: float = Field(default=5.0, ge=0, description="SIGTERM: wait for outstanding fills")
    shutdown_flush_timeout_s: float = Field(
        default=10.0, gt=0, description="SIGTERM: bound of the checkpoint and the store's flush (seed 000)")
    role_change_timeout_s: float = Field(default=10.0, gt=0, description="POST /admin/role answers 504 after")
    market_data: MarketDataConfig | None = Field(
        default=None, description="feeds to consume and price orders off (issue 16); None: no market data")
    defects: tuple[Defect, ...] = ()


class FailoverConfig(_Model):
    daemon_id: str = "failover"
    host: str = "127.0.0.1"
    http_port: int = Field(ge=0, le=65535)
    primary_health_urls: tuple[str, ...] = Field(
        min_length=1, description="deep-health URL per vantage point"
    )
    dr_admin_url: str
    candidate_admin_urls: tuple[str, ...] = Field(
        default=(), description="instances that may be promoted again when none is active "
        "after a failover, in order of preference (default: the DR alone)"
    )
    admin_token: str
    nats_url: str
    subject_prefix: str = "oms"
    check_interval_s: float = 0.2
    health_timeout_s: float = 0.5
    confirmation_count: int = Field(default=3, ge=1)
    defects: tuple[Defect, ...] = ()


class DbFailoverConfig(_Model):
    """The database failover daemon: promotes the streaming replica when the primary is gone."""

    daemon_id: str = "db-failover"
    host: str = "127.0.0.1"
    http_port: int = Field(ge=0, le=65535)
    primary_dsn: str = Field(repr=False)  # both hold the database password
    replica_dsn: str = Field(repr=False)
    nats_url: str
    subject_prefix: str = "oms"
    check_interval_s: float = Field(default=0.2, gt=0)
    timeout_s: float = Field(default=0.5, gt=0, description="a check slower than this failed")
    confirmation_count: int = Field(default=3, ge=1, description="consecutive failed checks to promote")
    promote_wait_s: int = Field(default=10, ge=1, description="how long pg_promote() may take")
