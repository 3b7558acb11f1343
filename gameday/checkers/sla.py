"""Per-component SLAs (seed 001), each the share of the workload's samples at which the part was up.

Each reads the samples from the workload's start to the run's heal (the faults' own time):

- ``sla.engine``: health probe samples (``probe-health``) at which an instance answered ``active``;
- ``sla.desk``: desk-level uptime, health probe samples at which the desk could flatten and pause:
  an instance answered ``active`` *and* its deep health (venue session, store) answered 200 from the
  HTTP server that serves its admin API. The SUT contract has no dry-run flatten or pause route, so
  this is the nearest probe that asks without acting: the admin API's server answers and the
  instance that would act is active and connected;
- ``sla.execution``: trade probes (a tiny order far from the market, acknowledged then cancelled)
  that came back ok; probes refused because the venue halted their symbol are left out;
- ``sla.risk``: scrapes at which an instance reported ``oms_active`` 1 and, on that instance,
  ``oms_breaker_tripped`` 0 and ``oms_kill_switch_engaged`` not 1: risk lets new entries through
  (scrapes where no instance exports ``oms_breaker_tripped`` are not samples);
- ``sla.feeds``: scrapes at which the active instance reported every ``oms_feed_age_seconds`` at most
  :data:`FEED_STALE_S`.

Unknown when no sample of its kind was taken in the window (a stack without metrics, without feeds).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gameday.checker_specs import SLA_DESK, SLA_ENGINE, SLA_EXECUTION, SLA_FEEDS, SLA_RISK, CheckerSpec
from gameday.checkers.base import Observation, Specified
from gameday.checkers.lease import ACTIVE, HEALTH_PROBE
from gameday.checkers.trade_probes import attempts, counted
from gameday.history import RUN_PHASE_F, Op, OpKind, OpType, RunPhase
from gameday.metrics.series import Scrape, scrapes

__all__ = ["FEED_STALE_S", "ComponentSla", "sla_checkers"]

FEED_STALE_S = 2.0
_FOREVER = 2**63


def _workload(ops: Sequence[Op]) -> tuple[int, int]:
    start, end = -_FOREVER, _FOREVER
    for op in ops:
        if op.kind == OpKind.RUN and op.f == RUN_PHASE_F:
            if op.value.get("phase") == RunPhase.WORKLOAD and isinstance(op.value.get("starts_ns"), int):
                start = op.value["starts_ns"]
            elif op.value.get("phase") == RunPhase.HEAL and end == _FOREVER:
                end = op.t_ns
    return start, end


def _health(ops: Sequence[Op], up: Callable[[dict[str, object]], bool]) -> list[bool]:
    samples = []
    for op in ops:
        if op.kind == OpKind.PROBE and op.process == HEALTH_PROBE and op.type == OpType.OK:
            instances = op.value.get("instances")
            if isinstance(instances, dict):
                samples.append(any(isinstance(state, dict) and up(state) for state in instances.values()))
    return samples


def _engine(ops: Sequence[Op]) -> list[bool]:
    return _health(ops, lambda state: state.get("role") == ACTIVE)


def _desk(ops: Sequence[Op]) -> list[bool]:
    return _health(ops, lambda state: state.get("role") == ACTIVE and state.get("deep_ok") is True)


def _execution(ops: Sequence[Op]) -> list[bool]:
    return [attempt.ok for attempt in counted(attempts(ops))]


def _gauge(scrape: Scrape, service: str, name: str) -> float | None:
    target = scrape.targets[service]
    return next((sample.value for sample in target.samples if sample.name == name), None)


def _active_services(scrape: Scrape) -> list[str]:
    return [service for service, target in scrape.targets.items()
            if target.ok and _gauge(scrape, service, "oms_active") == 1]


def _risk_at(scrape: Scrape) -> bool | None:
    if not any(_gauge(scrape, service, "oms_breaker_tripped") is not None for service in scrape.targets):
        return None
    return any(_gauge(scrape, service, "oms_breaker_tripped") == 0
               and _gauge(scrape, service, "oms_kill_switch_engaged") != 1
               for service in _active_services(scrape))


def _feeds_at(scrape: Scrape) -> bool | None:
    ages = {service: [sample.value for sample in target.samples if sample.name == "oms_feed_age_seconds"]
            for service, target in scrape.targets.items()}
    if not any(ages.values()):
        return None
    return any(ages[service] and max(ages[service]) <= FEED_STALE_S for service in _active_services(scrape))


def _scraped(at: Callable[[Scrape], bool | None]) -> Callable[[Sequence[Op]], list[bool]]:
    def samples(ops: Sequence[Op]) -> list[bool]:
        found = (at(scrape) for scrape in scrapes(ops))
        return [sample for sample in found if sample is not None]
    return samples


@dataclass(frozen=True)
class ComponentSla(Specified):
    spec: CheckerSpec
    description: str
    samples: Callable[[Sequence[Op]], list[bool]]

    def check(self, ops: Sequence[Op]) -> Observation:
        start, end = _workload(ops)
        found = self.samples([op for op in ops if start <= op.t_ns < end])
        if not found:
            return Observation.absent(self.unit, f"no sample for {self.name} during the workload")
        up = sum(found)
        return Observation(value=round(up / len(found), 4), unit=self.unit,
                           evidence={"samples": len(found), "up": up, "down": len(found) - up},
                           note=f"{up} of {len(found)} samples up")


def sla_checkers() -> tuple[ComponentSla, ...]:
    return (
        ComponentSla(SLA_ENGINE, "share of health samples with an instance active", _engine),
        ComponentSla(SLA_DESK, "share of health samples at which the desk could flatten and pause "
                                 "(an instance active and deep-healthy)", _desk),
        ComponentSla(SLA_EXECUTION, "share of trade probes that came back ok", _execution),
        ComponentSla(SLA_RISK, "share of scrapes at which the active instance's breaker and kill switch "
                                 "let entries through", _scraped(_risk_at)),
        ComponentSla(SLA_FEEDS, f"share of scrapes at which the active instance's feeds were at most "
                                  f"{FEED_STALE_S:g}s old", _scraped(_feeds_at)),
    )
