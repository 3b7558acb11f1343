"""The scenario model: what a game day runs and what it expects to observe."""

from __future__ import annotations

import re
from collections import Counter
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from gameday.scenario.actions import Action, action_problems
from gameday.scenario.deploy_spec import (
    DEPLOY_STACK_FIELDS,
    ClockSpec,
    OmsSpec,
    VenueSpec,
    quoted_times,
    stack_owned_keys,
)
from gameday.scenario.duration import Duration
from gameday.scenario.expectations import Expectation, ExpectationName, expectation_input
from gameday.scenario.faults import Fault, PositiveDuration
from gameday.scenario.invalid import invalid
from gameday.scenario.limits import MAX_ACTIONS, MAX_ORDERS_PER_SECOND, MAX_SYMBOLS
from gameday.scenario.load_spec import LoadSpec, load_problems
from gameday.scenario.metrics_spec import AlertSpec, distinct_alerts
from gameday.scenario.presets import (
    InitialRole,
    Region,
    StackPreset,
    presets_with_deployer,
    region_rtt_ms,
    topology,
)
from gameday.scenario.stop_spec import SafetySteps, StopSpec
from gameday.scenario.timeline_checks import fault_id_problems, timeline_length_problem, timeline_problems
from gameday.scenario.vocabulary import DefectName, target_section
from gameday.target import TARGET_SECTIONS

__all__ = ["BurstSpec", "KnownDefect", "LoadSpec", "ProbeSpec", "RegionsSpec", "Routing", "Scenario",
           "StackSpec", "StrategySpec", "WorkloadSpec"]

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_SYMBOL = re.compile(r"^[A-Z0-9]+(?:[-/.][A-Z0-9]+)*$")


def _slug(name: str) -> str:
    if not _SLUG.match(name):
        raise invalid("slug", "expected a slug of lowercase letters, digits and '-'")
    return name


def _symbol(symbol: str) -> str:
    if not _SYMBOL.match(symbol):
        raise invalid("symbol", "expected an instrument symbol such as 'BTC-USD'")
    return symbol


Slug = Annotated[str, AfterValidator(_slug)]
Symbol = Annotated[str, AfterValidator(_symbol)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegionsSpec(_Spec):
    """Where the primary side (venue, NATS, Postgres, failover daemon, oms-primary) and the DR run."""

    primary: Region
    dr: Region

    @model_validator(mode="after")
    def _known_pair(self) -> RegionsSpec:
        if region_rtt_ms(self.primary, self.dr) is None:
            raise invalid("region_pair", f"no baseline round trip is known for {self.primary} and {self.dr}")
        return self

    @property
    def rtt_ms(self) -> int:
        return region_rtt_ms(self.primary, self.dr) or 0


class StackSpec(_Spec):
    preset: StackPreset
    defects: tuple[DefectName, ...] = ()
    backend: Literal["embedded", "compose"] | None = None
    """How the target starts the stack (``gameday run --backend`` overrides it); default embedded."""
    regions: RegionsSpec | None = None
    initial_roles: dict[str, InitialRole] = {}
    # deployment stacks (docs/deploy.md §5); deploy, schedule and breaker are the target's own models
    clock: ClockSpec | None = None
    deploy: Any = None
    schedule: Any = None
    breaker: Any = None
    market_data: Any = None
    """the target's market-data section: the venue publishes feeds and the OMS prices off them (any preset)"""
    venue: VenueSpec | None = None
    oms: OmsSpec | None = None

    @field_validator("initial_roles")
    @classmethod
    def _oms_instances(cls, roles: dict[str, InitialRole], info: ValidationInfo) -> dict[str, InitialRole]:
        preset = info.data.get("preset")
        instances = topology(preset).oms_instances if preset is not None else ()
        unknown = sorted(set(roles) - set(instances))
        if unknown:
            raise invalid("oms_instance", f"expected OMS instances ({', '.join(instances)}), "
                                          f"got {', '.join(unknown)}")
        return roles

    @field_validator(*TARGET_SECTIONS)
    @classmethod
    def _target_sections(cls, value: Any, info: ValidationInfo) -> Any:
        assert info.field_name is not None
        return target_section(info.field_name, value, info)

    @field_validator("schedule", mode="before")
    @classmethod
    def _schedule_times_quoted(cls, schedule: Any) -> Any:
        return quoted_times(schedule)

    @field_validator("deploy", mode="before")
    @classmethod
    def _deploy_without_stack_owned_keys(cls, deploy: Any) -> Any:
        return stack_owned_keys(deploy)

    @model_validator(mode="after")
    def _deploy_fields_need_a_deployer(self) -> StackSpec:
        if not topology(self.preset).has_deployer:
            deploying = ", ".join(presets_with_deployer())
            problems = [_problem((name,), "needs_deployer",
                                 f"only a preset with a deployer ({deploying}) wires {name}; "
                                 f"preset {self.preset} has none", name)
                        for name in DEPLOY_STACK_FIELDS if getattr(self, name) is not None]
            if problems:
                raise ValidationError.from_exception_data("stack", problems)
        if self.schedule is not None and self.clock is None:
            raise ValidationError.from_exception_data("stack", [_problem(
                ("schedule",), "needs_clock", "a schedule is read against the market clock: set stack.clock",
                "schedule")])
        return self


class Routing(StrEnum):
    ACTIVE = "active"
    """clients send to whichever instance accepts, the last one that did first"""
    SPREAD = "spread"
    """clients spread orders over every instance (a misconfigured active-active client)"""
    FRONT_DOOR = "front-door"
    """clients send every order to the stack's front-door proxy, which routes it"""
    BROADCAST = "broadcast"
    """every order goes to every instance at once (each region's strategy acts on the same signal)"""


OrdersPerSecond = Annotated[float, Field(gt=0, le=MAX_ORDERS_PER_SECOND, allow_inf_nan=False)]


class BurstSpec(_Spec):
    """Extra order flow from ``at`` for ``for`` (e.g. a news burst), within the workload."""

    at: Duration
    duration: PositiveDuration = Field(alias="for")
    orders_per_second: OrdersPerSecond
    market_order_ratio: float = Field(default=1.0, ge=0, le=1)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class StrategySide(StrEnum):
    BUY = "buy"
    SELL = "sell"


class StrategySpec(_Spec):
    """Orders as a strategy's intents: each a market order in ``side`` of 1..``max_lots`` lots with an
    id recorded in the history, so the exposure can be graded against the one intended."""

    side: StrategySide = StrategySide.BUY
    max_lots: int = Field(default=10, ge=1, le=1_000)


class WorkloadSpec(_Spec):
    orders_per_second: OrdersPerSecond
    symbols: tuple[Symbol, ...] = Field(min_length=1, max_length=MAX_SYMBOLS)
    duration: PositiveDuration
    market_order_ratio: float = Field(default=0.3, ge=0, le=1)
    routing: Routing = Routing.ACTIVE
    bursts: tuple[BurstSpec, ...] = ()
    strategy: StrategySpec | None = None

    @field_validator("symbols")
    @classmethod
    def _distinct(cls, symbols: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted(symbol for symbol, count in Counter(symbols).items() if count > 1)
        if repeated:
            raise invalid("distinct", f"expected distinct symbols, got {', '.join(repeated)} more than once")
        return symbols

    @model_validator(mode="after")
    def _bursts_within_the_workload(self) -> WorkloadSpec:
        problems = []
        for index, burst in enumerate(self.bursts):
            if burst.at >= self.duration:
                problems.append(_problem(("bursts", index, "at"), "after_workload",
                                         f"expected a time before the end of the workload ({self.duration}), "
                                         f"got {burst.at}", str(burst.at)))
            elif burst.at.ns + burst.duration.ns > self.duration.ns:
                ends = Duration(burst.at.ns + burst.duration.ns)
                problems.append(_problem(("bursts", index, "for"), "burst_after_workload",
                                         f"expected the burst to end by the end of the workload "
                                         f"({self.duration}), got an end at {ends}; expected a for of at "
                                         f"most {Duration(self.duration.ns - burst.at.ns)}",
                                         str(burst.duration)))
        if problems:
            raise ValidationError.from_exception_data("workload", problems)
        return self


class ProbeSpec(_Spec):
    trade_interval: PositiveDuration = Duration(100_000_000)
    health_interval: PositiveDuration = Duration(250_000_000)


def _problem(loc: tuple[int | str, ...], kind: str, message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(type=invalid(kind, message), loc=loc, input=value)


class KnownDefect(_Spec):
    """The defect of the reference stack this scenario must catch, and the expectations that must fail."""

    defects: tuple[DefectName, ...] = Field(min_length=1)
    fails: tuple[str, ...] = Field(min_length=1)


class Scenario(_Spec):
    """A validated game day. Build it with :func:`gameday.scenario.load_scenario`.

    Validating with ``context={"checkers": registry}`` checks ``expect`` names against that
    registry instead of the default one.
    """

    name: Slug
    description: str = Field(min_length=1)
    postmortem: str | None = None
    seed: StrictInt
    stack: StackSpec
    workload: WorkloadSpec
    probes: ProbeSpec = ProbeSpec()
    timeline: tuple[Fault, ...] = ()
    actions: tuple[Action, ...] = ()
    load: LoadSpec | None = None
    alerts: Annotated[tuple[AlertSpec, ...], AfterValidator(distinct_alerts)] = ()
    """Alert rules the harness evaluates over the scraped metrics (the ``alert.*`` expectations)."""
    stop_when: StopSpec | None = None
    safety: SafetySteps | None = None
    expect: dict[ExpectationName, Expectation] = Field(min_length=1)
    known_defect: KnownDefect | None = None

    @field_validator("expect", mode="before")
    @classmethod
    def _name_each_expectation(cls, expect: Any) -> Any:
        if isinstance(expect, dict):
            return {name: expectation_input(name, spec) for name, spec in expect.items()}
        return expect

    @field_validator("timeline", mode="before")
    @classmethod
    def _timeline_not_too_long(cls, timeline: Any) -> Any:
        too_long = timeline_length_problem(timeline)
        if too_long is not None:
            raise invalid("timeline_too_long", too_long)
        return timeline

    @field_validator("actions", mode="before")
    @classmethod
    def _actions_not_too_many(cls, actions: Any) -> Any:
        if isinstance(actions, list | tuple) and len(actions) > MAX_ACTIONS:
            raise invalid("too_many_actions",
                          f"expected at most {MAX_ACTIONS:,} actions, got {len(actions):,}")
        return actions

    @field_validator("timeline")
    @classmethod
    def _timeline_fits_stack_and_workload(cls, timeline: tuple[Fault, ...], info: ValidationInfo,
                                          ) -> tuple[Fault, ...]:
        stack, workload = info.data.get("stack"), info.data.get("workload")
        if stack is None or workload is None:
            return timeline  # already reported as invalid; nothing to check against
        problems = timeline_problems(timeline, stack.preset, workload.duration,
                                     market_data=stack.market_data is not None)
        if problems:
            raise ValidationError.from_exception_data("timeline", problems)
        return timeline

    @field_validator("actions")
    @classmethod
    def _actions_within_workload(cls, actions: tuple[Action, ...], info: ValidationInfo,
                                 ) -> tuple[Action, ...]:
        workload, stack = info.data.get("workload"), info.data.get("stack")
        if workload is None:
            return actions
        problems = [
            _problem((index, "at"), "after_workload",
                     f"expected a time before the end of the workload ({workload.duration}), got {action.at}",
                     str(action.at))
            for index, action in enumerate(actions) if action.at >= workload.duration
        ]
        if stack is not None:
            restartable = info.context.get("restartable") if isinstance(info.context, dict) else None
            problems += action_problems(actions, stack.preset, workload.symbols, restartable)
        if problems:
            raise ValidationError.from_exception_data("actions", problems)
        return actions

    @model_validator(mode="after")
    def _front_door_routing_needs_a_front_door(self) -> Scenario:
        services = topology(self.stack.preset).services
        if self.workload.routing is Routing.FRONT_DOOR and "front-door" not in services:
            raise ValidationError.from_exception_data("workload", [_problem(
                ("workload", "routing"), "no_front_door",
                f"preset {self.stack.preset} has no front door; expected routing active or spread",
                Routing.FRONT_DOOR.value)])
        return self

    @model_validator(mode="after")
    def _load_fits_stack_and_timeline(self) -> Scenario:
        if self.load is None:
            return self
        problems = load_problems(self.load, self.stack.preset, self.timeline, self.workload.duration)
        if problems:
            raise ValidationError.from_exception_data("scenario", problems)
        return self

    @model_validator(mode="after")
    def _safety_needs_a_stop_line(self) -> Scenario:
        if self.safety is not None and self.stop_when is None:
            raise ValidationError.from_exception_data("scenario", [_problem(
                ("safety",), "needs_stop_when", "safety steps run when a stop line is crossed: set stop_when",
                [step.value for step in self.safety])])
        return self

    @model_validator(mode="after")
    def _known_defect_fails_declared_expectations(self) -> Scenario:
        if self.known_defect is None:
            return self
        undeclared = [name for name in self.known_defect.fails if name not in self.expect]
        if undeclared:
            raise invalid("known_defect", f"known_defect.fails names {', '.join(undeclared)}, "
                                          f"which expect does not declare")
        return self

    @model_validator(mode="after")
    def _fault_ids_unique_and_named_right(self) -> Scenario:
        problems = fault_id_problems(self.timeline, self.expect)
        if problems:
            raise ValidationError.from_exception_data("scenario", problems)
        return self

    @model_validator(mode="after")
    def _alert_expectations_name_declared_rules(self) -> Scenario:
        declared = {alert.name for alert in self.alerts}
        problems = [_problem(("expect", name, "alert"), "unknown_alert",
                             f"expected one of the scenario's alerts "
                             f"({', '.join(sorted(declared)) or 'none'}), got {expectation.alert}",
                             expectation.alert)
                    for name, expectation in self.expect.items()
                    if expectation.alert is not None and expectation.alert not in declared]
        if problems:
            raise ValidationError.from_exception_data("scenario", problems)
        return self

    @property
    def expectations(self) -> tuple[Expectation, ...]:
        return tuple(self.expect.values())

    def alert_rule(self, name: str | None) -> AlertSpec | None:
        return next((alert for alert in self.alerts if alert.name == name), None)

    @property
    def metric_families(self) -> frozenset[str]:
        """Every metric the scenario's expectations, alert rules and stop lines read."""
        lines = () if self.stop_when is None else self.stop_when.metric or ()
        return frozenset({*(expectation.metric for expectation in self.expectations if expectation.metric),
                          *(alert.metric for alert in self.alerts), *(line.metric for line in lines)})
