"""What a scenario may say about a deployment stack: market clock, venue, OMS builds and limits.

The deployer's settings (``stack.deploy``), deploy window (``stack.schedule``) and breaker limits
(``stack.breaker``) are the target's own models (:mod:`gameday.scenario.vocabulary`); this module
adds the pieces the harness wires itself and the checks that span them (docs/deploy.md §5).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gameday.scenario.duration import Duration
from gameday.scenario.invalid import invalid
from gameday.scenario.vocabulary import VersionName
from gameday.zones import find_zone

__all__ = ["DEPLOY_STACK_FIELDS", "STACK_OWNED_DEPLOY_KEYS", "ClockSpec", "DeploymentSpec", "OmsSpec",
           "OrderRateLimitSpec", "VenueSpec", "quoted_times", "stack_owned_keys"]

DEPLOY_STACK_FIELDS = ("clock", "deploy", "schedule", "breaker", "oms")
"""``stack`` keys only a preset with a deployer wires."""
MAX_SESSION_SETUP_S = 60.0
STACK_OWNED_DEPLOY_KEYS = ("blue", "green", "defects")
"""Deployer settings the stack decides (instances from the preset, defects from ``stack.defects``)."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClockSpec(_Spec):
    """The market clock: exchange wall time ``start`` in ``tz`` when the stack starts, at ``rate``x."""

    start: datetime
    tz: str = "America/New_York"
    rate: float = Field(default=1.0, gt=0, allow_inf_nan=False)

    @field_validator("start")
    @classmethod
    def _wall_time(cls, start: datetime) -> datetime:
        if start.tzinfo is not None:
            raise invalid("wall_time", "expected exchange-local wall time without an offset (tz is the zone)")
        return start

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        if find_zone(name) is None:
            raise invalid("time_zone", "expected an IANA time zone such as 'America/New_York'")
        return name


class OrderRateLimitSpec(_Spec):
    """The venue's published new-order limit per session, and the ban beyond it (any preset)."""

    max_orders: int = Field(gt=0, le=1_000_000_000)
    window_s: float = Field(gt=0, le=86_400, allow_inf_nan=False)
    ban_s: float = Field(default=0.0, ge=0, le=86_400, allow_inf_nan=False)


class VenueSpec(_Spec):
    """Where the venue reports fills (a trade above ``max_fill_lots`` comes in pieces, one per market;
    presets with a deployer), how long a session takes to set up, and its published order rate limit."""

    markets: tuple[str, ...] = Field(default=("MOCKEX",), min_length=1)
    max_fill_lots: int | None = Field(default=None, gt=0)
    session_setup: Duration | None = None
    """a session set up once trading began waits this long (seed 002: 2-5 s); None: the target's default"""
    order_rate_limit: OrderRateLimitSpec | None = None

    @field_validator("session_setup")
    @classmethod
    def _bounded_setup(cls, setup: Duration | None) -> Duration | None:
        if setup is not None and setup.seconds > MAX_SESSION_SETUP_S:
            raise invalid("session_setup", f"expected a session setup of at most {MAX_SESSION_SETUP_S:g}s")
        return setup


class OmsSpec(_Spec):
    """The build blue runs, and the bounds of its graceful shutdown (the OMS's defaults when absent)."""

    version: VersionName | None = None
    shutdown_cancel_timeout_s: float | None = Field(default=None, gt=0)
    shutdown_fill_wait_s: float | None = Field(default=None, ge=0)


class DeploymentSpec(_Spec):
    """A scenario's settings for a stack with a deployer, as the stack backend receives them."""

    clock: ClockSpec | None = None
    deploy: Any = None  # the target's models, validated by the scenario's StackSpec
    schedule: Any = None
    breaker: Any = None
    venue: VenueSpec | None = None
    oms: OmsSpec | None = None
    market_data: Any = None  # the target's model; any preset may ask for it, so not a deploy field

    @classmethod
    def of(cls, stack: BaseModel) -> DeploymentSpec:
        """The deployment fields of a validated ``StackSpec``, and its market-data section."""
        return cls(**{name: getattr(stack, name) for name in (*DEPLOY_STACK_FIELDS, "venue", "market_data")})


def quoted_times(schedule: Any) -> Any:
    """YAML reads an unquoted ``16:00`` as the number 960 (base 60); refuse it instead of misreading it."""
    if isinstance(schedule, dict):
        for key in ("start", "end"):
            if isinstance(schedule.get(key), int) and not isinstance(schedule[key], bool):
                raise invalid("quoted_time", f"expected {key} as a quoted wall time such as '16:00' "
                                             f"(unquoted, YAML reads 16:00 as the number 960)")
    return schedule


def stack_owned_keys(deploy: Any) -> Any:
    if isinstance(deploy, dict):
        owned = [key for key in STACK_OWNED_DEPLOY_KEYS if key in deploy]
        if owned:
            raise invalid("stack_owned", f"{', '.join(owned)} are set by the stack (instances from the "
                                         f"preset, defects from stack.defects); remove them")
    return deploy
