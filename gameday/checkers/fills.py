"""The database against the ledger of truth: fills the OMS never persisted, and how long writes stopped.

- ``fills.lost``: ledger fills whose exec id is missing from the OMS's database at the end.
- ``db.write_recovery``: seconds from the first outage fault on the database to the first
  successful database write after it.

Both read the ``probe-database`` capture (docs/contracts.md §6): every fill and order the
database holds, each with the instant it was written on the history's clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from gameday.checker_specs import DB_WRITE_RECOVERY, FILLS_LOST
from gameday.checkers.base import Observation, Specified
from gameday.checkers.evidence import LedgerFill, last_op, ledger_snapshot
from gameday.checkers.records import (
    OUTAGE_FAULTS,
    Decision,
    FailoverEvent,
    Reference,
    parse,
    reference,
    seconds,
    sut_events,
)
from gameday.checkers.rto import affected_services
from gameday.history import Op, OpKind, OpType

__all__ = ["DatabaseSnapshot", "DatabaseWriteRecovery", "LostFills", "database_snapshot"]

MAX_LISTED = 20
DATABASE_PROBE = "probe-database"


class _Recorded(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class DatabaseRow(_Recorded):
    written_ns: int


class DatabaseFill(DatabaseRow):
    exec_id: str
    cl_ord_id: str | None = None
    symbol: str | None = None


class DatabaseOrder(DatabaseRow):
    cl_ord_id: str
    status: str | None = None


class DatabaseSnapshot(_Recorded):
    """What the database held at the end (``complete``: every ledger fill was in it)."""

    fills: list[DatabaseFill] = []
    orders: list[DatabaseOrder] = []
    complete: bool = False
    server_port: int | None = None


def database_snapshot(ops: Sequence[Op]) -> DatabaseSnapshot | str:
    """The last database capture, or why there is none."""
    captured = last_op(ops, OpKind.PROBE, "database", process=DATABASE_PROBE)
    if captured is not None:
        return parse(DatabaseSnapshot, captured)
    failed = last_op(ops, OpKind.PROBE, "database", type_=OpType.FAIL, process=DATABASE_PROBE)
    if failed is not None:
        return f"the database could not be read at the end: {failed.value.get('error')}"
    return "no database capture in the history"


def _instant(ref: Reference, t_ns: int | None) -> dict[str, Any]:
    return {"t_ns": None, "after_s": None} if t_ns is None else ref.instant(t_ns)


def _lost_fill(fill: LedgerFill, ref: Reference) -> dict[str, Any]:
    return {"exec_id": fill.exec_id, "order_id": fill.cl_ord_id, "instance": fill.instance,
            "symbol": fill.symbol, "side": str(fill.side), "qty": fill.qty, **_instant(ref, fill.t_ns)}


def _by_symbol(fills: Sequence[LedgerFill]) -> dict[str, int]:
    return dict(sorted(Counter(fill.symbol for fill in fills).items()))


def _lost_note(lost: Sequence[LedgerFill], total: int, ref: Reference) -> str:
    if not lost:
        return f"every one of the {total} ledger fills is in the database"
    symbols = ", ".join(f"{symbol} {count}" for symbol, count in _by_symbol(lost).items())
    times = sorted(fill.t_ns for fill in lost if fill.t_ns is not None)
    span = f", filled {ref.after_s(times[0])} s to {ref.after_s(times[-1])} s after the {ref.label}" \
        if times else ""
    return f"{len(lost)} of {total} ledger fills missing from the database ({symbols}){span}"


class LostFills(Specified):
    spec = FILLS_LOST
    description = "ledger fills whose exec id is missing from the OMS's database at the end of the run"

    def check(self, ops: Sequence[Op]) -> Observation:
        ledger = ledger_snapshot(ops)
        if ledger is None:
            return Observation.absent(self.unit, "no ledger snapshot in the history")
        database = database_snapshot(ops)
        if isinstance(database, str):
            return Observation.absent(self.unit, database)
        ref = reference(ops)
        stored = {fill.exec_id for fill in database.fills}
        lost = sorted((fill for fill in ledger.fills if fill.exec_id not in stored),
                      key=lambda fill: (fill.t_ns or 0, fill.exec_id))
        unknown_to_ledger = len(stored - {fill.exec_id for fill in ledger.fills})
        return Observation(
            value=len(lost),
            unit=self.unit,
            evidence={
                "reference": ref.describe(),
                "ledger_fills": len(ledger.fills),
                "database_fills": len(database.fills),
                "database_complete": database.complete,
                "database_fills_not_in_ledger": unknown_to_ledger,
                "lost_by_symbol": _by_symbol(lost),
                "lost": [_lost_fill(fill, ref) for fill in lost[:MAX_LISTED]],
                "lost_listed": min(len(lost), MAX_LISTED),
            },
            note=_lost_note(lost, len(ledger.fills), ref),
        )


def _first_database_outage(ops: Sequence[Op], services: frozenset[str]) -> Op | None:
    faults = sorted((op for op in ops if op.kind == OpKind.FAULT and op.type == OpType.OK
                     and op.f in OUTAGE_FAULTS and affected_services(op) & services),
                    key=lambda op: (op.t_ns, op.index))
    return faults[0] if faults else None


def _written(row: DatabaseFill | DatabaseOrder, ref: Reference) -> dict[str, Any]:
    if isinstance(row, DatabaseFill):
        return {"table": "fills", "exec_id": row.exec_id, "order_id": row.cl_ord_id, "symbol": row.symbol,
                **ref.instant(row.written_ns)}
    return {"table": "orders", "order_id": row.cl_ord_id, "status": row.status, **ref.instant(row.written_ns)}


def _promotions(ops: Sequence[Op], daemon: str, ref: Reference) -> list[dict[str, Any]]:
    events = [event for event in sut_events(ops, "failover", FailoverEvent) if not event.heartbeat]
    return [ref.instant(event.t_ns) for event in events
            if event.daemon == daemon and event.decision is Decision.PROMOTED]


class DatabaseWriteRecovery(Specified):
    spec = DB_WRITE_RECOVERY
    description = ("seconds from the first kill, pause or partition of the database to the first "
                   "database write after it")

    def __init__(self, services: Sequence[str] = ("postgres",), daemon: str = "db-failover") -> None:
        self._services = frozenset(services)
        self._daemon = daemon

    def check(self, ops: Sequence[Op]) -> Observation:
        fault = _first_database_outage(ops, self._services)
        if fault is None:
            return Observation.absent(self.unit, f"no kill, pause or partition of {sorted(self._services)}")
        database = database_snapshot(ops)
        if isinstance(database, str):
            return Observation.absent(self.unit, database)
        ref = Reference(f"{fault.f} {fault.value.get('fault_id', '?')}", fault.t_ns)
        rows: list[DatabaseFill | DatabaseOrder] = sorted([*database.fills, *database.orders],
                                                          key=lambda row: row.written_ns)
        before = [row for row in rows if row.written_ns <= fault.t_ns]
        after = [row for row in rows if row.written_ns > fault.t_ns]
        evidence: dict[str, Any] = {
            "fault": {"fault": fault.f, "fault_id": fault.value.get("fault_id"),
                      "affected": sorted(affected_services(fault)), "t_ns": fault.t_ns, "wall": fault.wall},
            "promoted": _promotions(ops, self._daemon, ref),
            "last_write_before": _written(before[-1], ref) if before else None,
            "writes_after": len(after),
        }
        if after:
            first = after[0]
            return Observation(value=seconds(first.written_ns - fault.t_ns), unit=self.unit,
                               evidence={**evidence, "first_write_after": _written(first, ref)},
                               note=f"the database took writes again {ref.after_s(first.written_ns)} s "
                                    f"after the {ref.label}")
        ledger = ledger_snapshot(ops)
        fills_after = [] if ledger is None else [
            fill for fill in ledger.fills if fill.t_ns is not None and fill.t_ns > fault.t_ns]
        return Observation(value=None, unit=self.unit, unbounded=True,
                           evidence={**evidence, "ledger_fills_after": len(fills_after)},
                           note=f"no database write after the {ref.label}, though the venue filled "
                                f"{len(fills_after)} order(s) after it")
