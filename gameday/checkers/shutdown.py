"""Graceful SIGTERM, graded from what the harness sees (seed 000: on SIGTERM the service must stop
accepting orders, cancel every open order at the exchange, wait for fill confirmations or a timeout,
write its final position state to the database and exit cleanly).

A *stop* is a SIGTERM the harness sent an OMS instance (a service that published an ``oms.roles``
event): a ``restart`` action with ``signal: SIGTERM`` — the harness started that process, so its
record holds the exit (``exit_code``, ``killed_after_grace``, ``stopped_s``) — or a ``kill`` fault
with ``signal: SIGTERM``, whose exit the harness does not see.

- ``shutdown.orders_left_open``: orders of the instance open at the venue when the SIGTERM was sent
  and still open (neither cancelled nor filled, says the ledger) when it exited. The exit is the
  harness's record; for a stop it did not see exit, the instance's ``ShutdownComplete`` alert (it
  says it is done: what is open then it left open); without either, unknown.
- ``shutdown.checkpoint_written``: 1 when every stop's instance published ``ShutdownComplete`` with
  ``"checkpoint": true`` between the SIGTERM and its exit; 0 when one said ``false``, or was seen to
  exit without saying it; unknown when an exit was not seen and nothing was said.
- ``shutdown.exit_code``: the first non-zero exit code of the stops (SIGKILL after the grace: the
  code of that kill), else 0; unknown while a stop's exit was not seen. systemd's ``Restart=on-failure``
  (seed 000) restarts exactly the non-zero ones: the evidence says which it would have restarted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gameday.checker_specs import SHUTDOWN_CHECKPOINT_WRITTEN, SHUTDOWN_EXIT_CODE, SHUTDOWN_ORDERS_LEFT_OPEN
from gameday.checkers.base import Observation
from gameday.checkers.ledger_timeline import LedgerTimeline, ledger_timeline
from gameday.checkers.premise import NO_LEDGER, PremisedChecker
from gameday.checkers.records import (
    Alert,
    AlertEvent,
    Reference,
    SutEvent,
    action_runs,
    parse,
    reference,
    sut_events,
)
from gameday.history import Op, OpKind, OpType

__all__ = ["CheckpointWritten", "ExitCode", "OrdersLeftOpen", "Stop", "sigterm_stops"]

SIGTERM = "SIGTERM"
MAX_LISTED = 20


class _RestartOutcome(BaseModel):
    """What the harness recorded of a restart it carried out (reference_target's stacks)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    exit_code: int | None = None
    killed_after_grace: bool | None = None
    stopped_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class _RoleSeen(SutEvent):
    instance: str


@dataclass(frozen=True)
class Stop:
    """A SIGTERM sent to ``instance`` at ``signalled_ns``; ``exited_ns`` and ``exit_code`` when seen."""

    instance: str
    signalled_ns: int
    via: str
    exited_ns: int | None = None
    exit_code: int | None = None
    killed_after_grace: bool = False

    def describe(self, ref: Reference) -> dict[str, Any]:
        return {"instance": self.instance, "via": self.via, "signalled": ref.instant(self.signalled_ns),
                "exited": None if self.exited_ns is None else ref.instant(self.exited_ns),
                "exit_code": self.exit_code, "killed_after_grace": self.killed_after_grace,
                "restarted_by_systemd": None if self.exit_code is None else self.exit_code != 0}


def _restart_stop(invoke: Op, done: Op | None) -> Stop | None:
    if done is None or done.type != OpType.OK:
        return None
    outcome = parse(_RestartOutcome, done)
    exited = None if outcome.stopped_s is None else invoke.t_ns + round(outcome.stopped_s * 1e9)
    return Stop(str(invoke.value["target"]), invoke.t_ns, "restart", exited, outcome.exit_code,
                bool(outcome.killed_after_grace))


def sigterm_stops(ops: Sequence[Op]) -> list[Stop]:
    """Every SIGTERM the harness sent an OMS instance, earliest first."""
    instances = {event.instance for event in sut_events(ops, "roles", _RoleSeen)}
    stops = [stop for invoke, done in action_runs(ops, "restart")
             if invoke.value.get("signal") == SIGTERM and invoke.value.get("target") in instances
             and (stop := _restart_stop(invoke, done)) is not None]
    stops += [Stop(str(op.value["target"]), op.t_ns, "kill") for op in ops
              if op.kind == OpKind.FAULT and op.f == "kill" and op.type == OpType.OK
              and op.value.get("signal") == SIGTERM and op.value.get("target") in instances]
    return sorted(stops, key=lambda stop: stop.signalled_ns)


def _said_done(alerts: Sequence[AlertEvent], stop: Stop) -> AlertEvent | None:
    """The instance's first ``ShutdownComplete`` after the SIGTERM (and before its exit, when seen)."""
    return next((alert for alert in alerts
                 if alert.instance == stop.instance and alert.alert == Alert.SHUTDOWN_COMPLETE.value
                 and alert.t_ns >= stop.signalled_ns
                 and (stop.exited_ns is None or alert.t_ns <= stop.exited_ns)), None)


@dataclass(frozen=True)
class _Graded:
    ref: Reference
    stops: list[Stop]
    alerts: list[AlertEvent]

    def described(self) -> list[dict[str, Any]]:
        return [stop.describe(self.ref) for stop in self.stops]

    def evidence(self, per_stop: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The reference and each stop (as ``per_stop`` describes them, else as they describe themselves)."""
        return {"reference": self.ref.describe(), "stops": self.described() if per_stop is None else per_stop}


def _graded(ops: Sequence[Op]) -> _Graded | str:
    stops = sigterm_stops(ops)
    if not stops:
        return "no SIGTERM was sent to an OMS instance (a restart action or kill fault with signal SIGTERM)"
    return _Graded(reference(ops), stops, sut_events(ops, "alerts", AlertEvent))


def _left_open(timeline: LedgerTimeline, stop: Stop, until_ns: int, ref: Reference) -> list[dict[str, Any]]:
    return [{"cl_ord_id": order.cl_ord_id, "symbol": order.symbol, "status_at_end": order.status.value,
             "closed": None if order.closed_ns is None else ref.instant(order.closed_ns)}
            for order in timeline.sorted_orders()
            if order.instance == stop.instance and order.open_at(stop.signalled_ns)
            and order.open_at(until_ns)]


class _OfStops(PremisedChecker[_Graded]):
    def premise(self, ops: Sequence[Op]) -> _Graded | str:
        return _graded(ops)


class OrdersLeftOpen(_OfStops):
    spec = SHUTDOWN_ORDERS_LEFT_OPEN
    description = ("orders of a SIGTERMed OMS instance open at the venue at the signal and still open "
                   "when it exited (neither cancelled nor filled)")

    def grade(self, graded: _Graded, ops: Sequence[Op]) -> Observation:
        timeline = ledger_timeline(ops)
        if timeline is None:
            return Observation.absent(self.unit, NO_LEDGER)
        ref, per_stop, left = graded.ref, [], 0
        for stop in graded.stops:
            done = _said_done(graded.alerts, stop)
            until = stop.exited_ns if stop.exited_ns is not None else None if done is None else done.t_ns
            if until is None:
                return Observation.absent(self.unit, f"{stop.instance}'s exit was not seen and it never said "
                                          "ShutdownComplete", stops=graded.described())
            open_at_signal = sum(1 for order in timeline.orders
                                 if order.instance == stop.instance and order.open_at(stop.signalled_ns))
            still = _left_open(timeline, stop, until, ref)
            left += len(still)
            per_stop.append({**stop.describe(ref), "open_at_signal": open_at_signal, "graded_until":
                             ref.instant(until), "left_open": len(still), "orders": still[:MAX_LISTED]})
        return Observation(value=left, unit=self.unit,
                           evidence=graded.evidence(per_stop),
                           note=f"{left} order(s) left open at the venue by {len(per_stop)} stop(s)")


class CheckpointWritten(_OfStops):
    spec = SHUTDOWN_CHECKPOINT_WRITTEN
    description = "1 when every SIGTERMed OMS instance said ShutdownComplete, checkpoint: true, before exit"

    def grade(self, graded: _Graded, ops: Sequence[Op]) -> Observation:
        ref, per_stop, missing, unseen = graded.ref, [], [], []
        for stop in graded.stops:
            done = _said_done(graded.alerts, stop)
            checkpoint = None if done is None else done.detail.get("checkpoint")
            per_stop.append({**stop.describe(ref), "shutdown_complete": None if done is None else
                             {**ref.instant(done.t_ns), "detail": done.detail}})
            if done is None and stop.exited_ns is None:
                unseen.append(stop.instance)
            elif checkpoint is not True:
                missing.append(stop.instance)
        evidence = graded.evidence(per_stop)
        if missing:
            return Observation(value=0, unit=self.unit, evidence=evidence,
                               note=f"no checkpoint said written by {', '.join(missing)} before it exited")
        if unseen:
            return Observation.absent(self.unit, f"the exit of {', '.join(unseen)} was not seen and it said "
                                      "nothing", **evidence)
        return Observation(value=1, unit=self.unit, evidence=evidence,
                           note=f"every one of {len(per_stop)} stop(s) checkpointed before exiting")


class ExitCode(_OfStops):
    spec = SHUTDOWN_EXIT_CODE
    description = "exit code of SIGTERMed OMS instances (the first non-zero; a SIGKILL after the grace too)"

    def grade(self, graded: _Graded, ops: Sequence[Op]) -> Observation:
        evidence = graded.evidence()
        failed = next((stop for stop in graded.stops if stop.exit_code not in (None, 0)), None)
        if failed is not None:
            assert failed.exit_code is not None
            how = "SIGKILLed after the grace" if failed.killed_after_grace else f"exited {failed.exit_code}"
            return Observation(value=failed.exit_code, unit=self.unit, evidence=evidence,
                               note=f"{failed.instance} {how}")
        unseen = [stop.instance for stop in graded.stops if stop.exit_code is None]
        if unseen:
            return Observation.absent(self.unit, f"the exit code of {', '.join(unseen)} was not seen (a kill "
                                      "fault, or a stack that does not report it)", **evidence)
        return Observation(value=0, unit=self.unit, evidence=evidence,
                           note=f"every one of {len(graded.stops)} stop(s) exited 0")
