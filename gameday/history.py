"""One append-only history of everything a run observed.

Client operations, probe samples, faults, operator actions, SUT events recorded from NATS and
ledger snapshots all go into the same ``history.jsonl``; checkers read nothing else.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ConfigDict

_log = logging.getLogger(__name__)


class OpKind(StrEnum):
    CLIENT = "client"
    PROBE = "probe"
    FAULT = "fault"
    ACTION = "action"
    SUT = "sut"
    LEDGER = "ledger"
    RUN = "run"
    LOAD = "load"  # a scenario's locust load: its per-second statistics (gameday.load.stats)
    METRICS = "metrics"  # each service's /metrics, scraped at the probe interval (gameday.metrics.scraper)


HISTORY_FILE = "history.jsonl"
"""A run's history, in its run directory."""
RUN_PHASE_F = "phase"
"""``f`` of the runner's ``run`` ops that mark a phase; ``value["phase"]`` is a :class:`RunPhase`."""


STOP_F = "stop"
"""``f`` of the runner's ``run`` op recording a crossed stop line (``gameday.stop.Crossing.record``)."""


class RunPhase(StrEnum):
    WORKLOAD = "workload"  # value: starts_ns, duration_s, orders, faults, actions
    HEAL = "heal"  # every fault still applied is healed
    SETTLE = "settle"  # value: timeout_s, instances (waiting for one active and deep-healthy)
    SETTLED = "settled"  # value: active (None: the wait timed out), waited_s
    CAPTURE = "capture"  # value: venue_matching (a MatchingState), detail (why not stopped)


class OpType(StrEnum):
    INVOKE = "invoke"
    OK = "ok"
    FAIL = "fail"
    INFO = "info"


class Op(BaseModel):
    """One history entry. ``t_ns`` is ``time.monotonic_ns()``, one clock for every process."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: int
    t_ns: int
    wall: str
    kind: OpKind
    type: OpType
    process: str
    f: str
    value: dict[str, Any] = {}


Observer = Callable[[Op], None]
"""Told of each op right after it is recorded (a live console); must not block."""


class History:
    """Appends ops to a JSONL file as they happen and keeps them in memory for grading.

    ``observers`` (and those added with :meth:`subscribe`) are called with each op once it is
    recorded. An observer that raises never costs the recording: its first failure is logged,
    later ones are suppressed silently.
    """

    def __init__(self, path: Path | None = None, observers: Iterable[Observer] = ()) -> None:
        self._ops: list[Op] = []
        self._observers: list[Observer] = list(observers)
        self._failed: list[Observer] = []
        self._path = path
        self._file: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")

    def append(
        self,
        kind: OpKind,
        type_: OpType,
        process: str,
        f: str,
        value: dict[str, Any] | None = None,
        *,
        t_ns: int | None = None,
    ) -> Op:
        op = Op(
            index=len(self._ops),
            t_ns=time.monotonic_ns() if t_ns is None else t_ns,
            wall=datetime.now(UTC).isoformat(timespec="microseconds"),
            kind=kind,
            type=type_,
            process=process,
            f=f,
            value=value or {},
        )
        self._ops.append(op)
        if self._file is not None:
            self._file.write(op.model_dump_json() + "\n")
            self._file.flush()
        self._notify(op)
        return op

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        """Call ``observer`` with every op recorded from now on; returns what unsubscribes it."""
        self._observers.append(observer)

        def unsubscribe() -> None:
            if observer in self._observers:
                self._observers.remove(observer)

        return unsubscribe

    def _notify(self, op: Op) -> None:
        for observer in tuple(self._observers):
            try:
                observer(op)
            except Exception:
                if observer not in self._failed:
                    self._failed.append(observer)
                    _log.warning("history observer %r failed on op %d; its later failures are not logged",
                                 observer, op.index, exc_info=True)

    @property
    def ops(self) -> list[Op]:
        return self._ops

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_history(path: Path) -> list[Op]:
    """Load a stored history; a truncated last line (a killed run) is ignored."""
    ops: list[Op] = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            line = line.strip()
            if not line:
                continue
            try:
                ops.append(Op.model_validate(json.loads(line)))
            except (json.JSONDecodeError, ValueError):
                break
    return ops


def select(ops: Iterable[Op], *, kind: OpKind | None = None, f: str | None = None,
           type_: OpType | None = None, process: str | None = None) -> Iterator[Op]:
    for op in ops:
        if kind is not None and op.kind != kind:
            continue
        if f is not None and op.f != f:
            continue
        if type_ is not None and op.type != type_:
            continue
        if process is not None and op.process != process:
            continue
        yield op
