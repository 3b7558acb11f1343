"""The scenario's alert rules, evaluated over the scraped series (:mod:`gameday.metrics.rules`).

- ``alert.time_to_fire``: seconds from the ``from`` fault's start to the alert firing (0 when it was
  already firing then); never fired after it: unbounded, so a ``max`` fails;
- ``alert.time_to_resolve``: seconds from the ``from`` fault's start to the end of the first firing
  at or after it; still firing at the last scrape: unbounded; never fired: unknown (nothing resolved);
- ``alert.firings``: how many times the alert fired in the window (the whole run, or ``during`` /
  ``after`` a fault, ``grace``): ``{alert: X, equals: 0}`` is "never fired".

Each names its rule with ``alert:``. Unknown when nothing was scraped (or nothing after the fault).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gameday.checker_specs import ALERT_FIRINGS, ALERT_TIME_TO_FIRE, ALERT_TIME_TO_RESOLVE
from gameday.checkers.base import GradingContext, Observation, Specified
from gameday.checkers.load import fault_op, span_of
from gameday.checkers.metric import in_span
from gameday.checkers.records import Reference, reference, seconds
from gameday.history import Op
from gameday.metrics import AlertRule, Firing, Scrape, firings, scrapes

__all__ = ["AlertFirings", "AlertTimeToFire", "AlertTimeToResolve", "alert_rule_checkers"]

_RUN = "the whole run"


def _firing(firing: Firing, ref: Reference) -> dict[str, Any]:
    return {"fired": ref.instant(firing.fired_ns), "pending_since": ref.instant(firing.pending_ns),
            "resolved": None if firing.resolved_ns is None else ref.instant(firing.resolved_ns),
            "worst": firing.worst}


class _AlertChecker(Specified):

    def check(self, ops: Sequence[Op]) -> Observation:
        return self.check_in(ops, GradingContext())

    def check_in(self, ops: Sequence[Op], context: GradingContext) -> Observation:
        rule = context.alert
        if rule is None:
            return Observation.absent(self.unit, "no alert rule named (the expectation's alert:)")
        scraped = scrapes(ops)
        if not scraped:
            return Observation.absent(self.unit, f"no metrics scraped: alert {rule.name} was never evaluated")
        return self.grade(ops, context, rule, scraped, firings(rule.condition, scraped))

    def grade(self, ops: Sequence[Op], context: GradingContext, rule: AlertRule, scraped: Sequence[Scrape],
              fired: Sequence[Firing]) -> Observation:
        raise NotImplementedError


class _FromFault(_AlertChecker):

    def grade(self, ops: Sequence[Op], context: GradingContext, rule: AlertRule, scraped: Sequence[Scrape],
              fired: Sequence[Firing]) -> Observation:
        applied = None if context.anchor is None else fault_op(ops, context.anchor, heal=False)
        if applied is None:
            return Observation.absent(self.unit, "the from fault was not applied", alert=rule.name)
        if not any(scrape.t_ns >= applied.t_ns for scrape in scraped):
            return Observation.absent(self.unit, "no scrape after the fault", alert=rule.name)
        ref = reference(ops)
        evidence: dict[str, Any] = {"alert": rule.name, "rule": rule.condition.describe(),
                                    "fault": ref.instant(applied.t_ns),
                                    "firings": [_firing(firing, ref) for firing in fired[:10]]}
        first = next((firing for firing in fired if firing.resolved_ns is None
                      or firing.resolved_ns > applied.t_ns), None)
        return self.measure(first, applied.t_ns, evidence, rule)

    def measure(self, first: Firing | None, fault_ns: int, evidence: dict[str, Any],
                rule: AlertRule) -> Observation:
        raise NotImplementedError


class AlertTimeToFire(_FromFault):
    spec = ALERT_TIME_TO_FIRE
    description = "seconds from a fault's start to a scenario alert rule firing"

    def measure(self, first: Firing | None, fault_ns: int, evidence: dict[str, Any],
                rule: AlertRule) -> Observation:
        if first is None:
            return Observation(value=None, unit=self.unit, unbounded=True, evidence=evidence,
                               note=f"alert {rule.name} never fired after the fault")
        after = seconds(max(0, first.fired_ns - fault_ns))
        return Observation(value=after, unit=self.unit, evidence=evidence,
                           note=f"alert {rule.name} fired {after:g}s after the fault")


class AlertTimeToResolve(_FromFault):
    spec = ALERT_TIME_TO_RESOLVE
    description = "seconds from a fault's start to the end of the first firing of a scenario alert rule"

    def measure(self, first: Firing | None, fault_ns: int, evidence: dict[str, Any],
                rule: AlertRule) -> Observation:
        if first is None:
            return Observation.absent(self.unit, f"alert {rule.name} never fired after the fault: "
                                                 f"nothing resolved", **evidence)
        if first.resolved_ns is None:
            return Observation(value=None, unit=self.unit, unbounded=True, evidence=evidence,
                               note=f"alert {rule.name} was still firing at the last scrape")
        after = seconds(first.resolved_ns - fault_ns)
        return Observation(value=after, unit=self.unit, evidence=evidence,
                           note=f"alert {rule.name} resolved {after:g}s after the fault")


class AlertFirings(_AlertChecker):
    spec = ALERT_FIRINGS
    description = "how many times a scenario alert rule fired over the run or a fault's window"

    def grade(self, ops: Sequence[Op], context: GradingContext, rule: AlertRule, scraped: Sequence[Scrape],
              fired: Sequence[Firing]) -> Observation:
        span = span_of(ops, context.window, _RUN)
        if isinstance(span, str):
            return Observation.absent(self.unit, span, alert=rule.name)
        if not in_span(scraped, span):
            return Observation.absent(self.unit, f"no scrape {span.label}", alert=rule.name)
        inside = [firing for firing in fired if span.start_ns <= firing.fired_ns < span.end_ns]
        ref = reference(ops)
        return Observation(value=len(inside), unit=self.unit,
                           evidence={"alert": rule.name, "rule": rule.condition.describe(),
                                     "window": span.label,
                                     "firings": [_firing(firing, ref) for firing in inside[:10]]},
                           note=f"alert {rule.name} fired {len(inside)} time(s) ({span.label})")


def alert_rule_checkers() -> tuple[AlertTimeToFire, AlertTimeToResolve, AlertFirings]:
    return AlertTimeToFire(), AlertTimeToResolve(), AlertFirings()
