"""``store.rows_lost`` and ``store.backlog_at_end``: database rows an OMS gave up on, and rows still waiting.

Both read ``oms.store_backlog`` (each instance's writer: ``queued``, ``written``, ``dropped``, once a
second while rows are queued and once on any change) and the alert ``StoreRowsNotWritten {"rows"}``
(a shutdown that could not write every row within its bound). They tell two things apart:

- **lost**: rows the store itself says it will never write — ``dropped`` and the rows of
  ``StoreRowsNotWritten``, per boot of an instance (a restart starts its counters again);
- **queued at the end**: the last sample's ``queued`` of each instance still running at the end,
  rows that may yet be written, when the writer was not keeping up: its oldest row had waited at
  least a second (one publishing interval), or it was not connected. A younger backlog is rows in
  transit (a batch on the wire while trading goes on), listed apart. An instance that stopped
  after its last sample (killed, restarted, stopped by the deployer, or shut down with an alert)
  has no backlog at the end: its last ``queued`` is listed apart as unresolved (a sample is up to
  a second old; a kill's losses are not the store's word, and ``fills.lost`` grades them against
  the database).

Unknown when the stack published no backlog sample at all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gameday.checker_specs import STORE_BACKLOG_AT_END, STORE_ROWS_LOST
from gameday.checkers.base import Observation, Specified
from gameday.checkers.deploy_records import Subject, subject_recorded
from gameday.checkers.records import (
    Alert,
    AlertEvent,
    Reference,
    RowsNotWrittenDetail,
    StoreBacklogSample,
    parse_value,
    reference,
    seconds,
    sut_events,
)
from gameday.history import Op, OpKind, OpType

__all__ = ["StoreBacklogAtEnd", "StoreRowsLost", "StoreState", "store_states"]

_NO_BACKLOG = "no oms.store_backlog sample recorded (the stack publishes no store backlog)"
_SHUTDOWN_ALERTS = frozenset({Alert.STORE_ROWS_NOT_WRITTEN.value, Alert.SHUTDOWN_COMPLETE.value})
_STOP_ACTION = "stop"
STUCK_AGE_S = 1.0
_NEW_PROCESS = frozenset({"killed", "restarted"})  # a sample after these is another process's store


@dataclass
class _Boot:
    """Samples of one run of an instance's store (its counters never go down within one)."""

    samples: list[StoreBacklogSample] = field(default_factory=list)
    not_written: list[RowsNotWrittenDetail] = field(default_factory=list)

    @property
    def lost(self) -> int:
        said = [max(alert.rows, alert.dropped or 0) for alert in self.not_written]
        return max([sample.dropped for sample in self.samples] + said + [0])


@dataclass(frozen=True)
class StoreState:
    """One instance's store over the run: what it lost, its last sample, whether it stopped after it."""

    instance: str
    lost: int
    last: StoreBacklogSample
    boots: int
    stopped: str | None

    @property
    def stuck(self) -> bool:
        return self.last.oldest_age_s >= STUCK_AGE_S or self.last.connected is False

    @property
    def queued_at_end(self) -> int:
        return self.last.queued if self.stopped is None and self.stuck else 0

    @property
    def in_transit(self) -> int:
        return self.last.queued if self.stopped is None and not self.stuck else 0

    def describe(self, ref: Reference, end_ns: int) -> dict[str, Any]:
        last = self.last
        return {"lost": self.lost, "queued_at_end": self.queued_at_end, "in_transit": self.in_transit,
                "stopped": self.stopped,
                "unresolved": last.queued if self.stopped is not None else 0, "boots": self.boots,
                "last_sample": {"queued": last.queued, "in_flight": last.in_flight,
                                "oldest_age_s": last.oldest_age_s, "written": last.written,
                                "dropped": last.dropped, "connected": last.connected,
                                **ref.instant(last.t_ns), "age_at_end_s": seconds(end_ns - last.t_ns)}}


def _boots(samples: Sequence[StoreBacklogSample], stops_ns: Sequence[int]) -> list[_Boot]:
    """Samples split where the counters go down or the process was killed or restarted in between."""
    boots: list[_Boot] = []
    for sample in samples:
        previous = boots[-1].samples[-1] if boots else None
        if (previous is None or sample.written < previous.written or sample.dropped < previous.dropped
                or any(previous.t_ns <= t_ns < sample.t_ns for t_ns in stops_ns)):
            boots.append(_Boot())
        boots[-1].samples.append(sample)
    return boots


def _stops(ops: Sequence[Op], alerts: Sequence[AlertEvent]) -> list[tuple[int, str, str]]:
    """(t_ns, instance, how) for every way the history shows an instance stopping."""
    found = [(alert.t_ns, alert.instance, f"alert {alert.alert}") for alert in alerts
             if alert.alert in _SHUTDOWN_ALERTS]
    for op in ops:
        target = op.value.get("target")
        if not isinstance(target, str):
            continue
        if op.kind == OpKind.FAULT and op.f == "kill" and op.type == OpType.OK:
            found.append((op.t_ns, target, "killed"))
        elif op.kind == OpKind.ACTION and op.f == "restart" and op.type == OpType.INVOKE:
            found.append((op.t_ns, target, "restarted"))
    for op in subject_recorded(ops, Subject.DEPLOY_ACTIONS):
        action = op.value.get("action")
        instance = action.get("instance") if isinstance(action, dict) else None
        if isinstance(action, dict) and action.get("kind") == _STOP_ACTION and isinstance(instance, str):
            found.append((op.t_ns, instance, "stopped by the deployer"))
    return found


def store_states(ops: Sequence[Op]) -> list[StoreState]:
    """Every instance that published a store backlog sample, by name."""
    samples = sut_events(ops, "store_backlog", StoreBacklogSample)
    alerts = sut_events(ops, "alerts", AlertEvent)
    stops = _stops(ops, alerts)
    states = []
    for instance in sorted({sample.instance for sample in samples}):
        own_stops = sorted((t_ns, how) for t_ns, name, how in stops if name == instance)
        boots = _boots([sample for sample in samples if sample.instance == instance],
                       [t_ns for t_ns, how in own_stops if how in _NEW_PROCESS])
        unmatched = 0
        for alert in alerts:
            if alert.instance != instance or alert.alert != Alert.STORE_ROWS_NOT_WRITTEN:
                continue
            detail = parse_value(RowsNotWrittenDetail, alert.detail, f"the StoreRowsNotWritten of {instance}")
            boot = next((boot for boot in reversed(boots) if boot.samples[0].t_ns <= alert.t_ns), None)
            if boot is None:
                unmatched += max(detail.rows, detail.dropped or 0)
            else:
                boot.not_written.append(detail)
        last = boots[-1].samples[-1]
        stopped = next((how for t_ns, how in own_stops if t_ns >= last.t_ns), None)
        lost = sum(boot.lost for boot in boots) + unmatched
        states.append(StoreState(instance, lost, last, len(boots), stopped))
    return states


def _end_ns(ops: Sequence[Op]) -> int:
    return max((op.t_ns for op in ops), default=0)


class _StoreChecker(Specified, ABC):

    def check(self, ops: Sequence[Op]) -> Observation:
        states = store_states(ops)
        if not states:
            return Observation.absent(self.unit, _NO_BACKLOG)
        ref = reference(ops)
        end_ns = _end_ns(ops)
        evidence = {"reference": ref.describe(),
                    "instances": {state.instance: state.describe(ref, end_ns) for state in states},
                    "lost": sum(state.lost for state in states),
                    "queued_at_end": sum(state.queued_at_end for state in states)}
        return self._observe(states, evidence)

    @abstractmethod
    def _observe(self, states: Sequence[StoreState], evidence: dict[str, Any]) -> Observation: ...


class StoreRowsLost(_StoreChecker):
    spec = STORE_ROWS_LOST
    description = ("database rows an OMS's store said it will never write: dropped, or left unwritten at a "
                   "shutdown (StoreRowsNotWritten); rows still queued are not counted")

    def _observe(self, states: Sequence[StoreState], evidence: dict[str, Any]) -> Observation:
        lost = [state for state in states if state.lost]
        note = ", ".join(f"{state.instance} lost {state.lost}" for state in lost) or "no row lost"
        if evidence["queued_at_end"]:
            note += f"; {evidence['queued_at_end']} still queued at the end (not lost)"
        return Observation(value=evidence["lost"], unit=self.unit, evidence=evidence, note=note)


class StoreBacklogAtEnd(_StoreChecker):
    spec = STORE_BACKLOG_AT_END
    description = ("rows queued for the database at the end, in the last backlog sample of each instance "
                   "still running (rows lost are store.rows_lost)")

    def _observe(self, states: Sequence[StoreState], evidence: dict[str, Any]) -> Observation:
        queued = [state for state in states if state.queued_at_end]
        note = ", ".join(f"{state.instance} {state.queued_at_end} queued"
                         + (" (not connected)" if state.last.connected is False else "")
                         for state in queued) or "nothing queued at the end"
        return Observation(value=evidence["queued_at_end"], unit=self.unit, evidence=evidence, note=note)
