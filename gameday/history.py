"""One append-only history of everything a run observed.

Client operations, probe samples, faults, operator actions, SUT events recorded from NATS and
ledger snapshots all go into the same ``history.jsonl``; checkers read nothing else.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ConfigDict


class OpKind(StrEnum):
    CLIENT = "client"
    PROBE = "probe"
    FAULT = "fault"
    ACTION = "action"
    SUT = "sut"
    LEDGER = "ledger"
    RUN = "run"


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


class History:
    """Appends ops to a JSONL file as they happen and keeps them in memory for grading."""

    def __init__(self, path: Path | None = None) -> None:
        self._ops: list[Op] = []
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
        return op

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
