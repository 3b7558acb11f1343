"""Each failed or ghost order followed through the services' structured logs (seed 001's correlation id).

The orders followed, at most :data:`MAX_ORDERS`: ghost orders (open at the venue, unknown to the
active OMS: ``orders.ghost``), orders the venue rejected (its ledger), then client placements that
failed or whose outcome is unknown and whose answer named an id. A trail starts from the lines that
carry the order's ``cl_ord_id`` (or ``order_id``), then takes every line that shares a ``corr``, a
``cl_ord_id`` or an ``order_id`` with them (one hop: a replace's new ``cl_ord_id`` joins through the
``corr``), in time order, at most :data:`MAX_LINES` lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from gameday.checkers.evidence import Missing, active_at_end
from gameday.history import Op, OpKind, OpType
from gameday.report.data_model import Clock, OrderTrail, TrailLine

__all__ = ["MAX_LINES", "MAX_ORDERS", "order_trails"]

MAX_ORDERS = 10
MAX_LINES = 20
JOIN_KEYS = ("corr", "cl_ord_id", "order_id")
ID_KEYS = ("corr", "cl_ord_id", "order_id", "exec_id", "symbol", "instance")


def _subjects(ops: Sequence[Op]) -> list[tuple[str, str, str]]:
    """(key, value, why) of each order to follow, ghosts first."""
    found: list[tuple[str, str, str]] = []
    evidence = active_at_end(ops)
    if not isinstance(evidence, Missing):
        known = {order.order_id for order in evidence.open_orders}
        ghosts = [order for order in evidence.ledger.orders
                  if order.status.is_open and order.cl_ord_id not in known]
        found += [("cl_ord_id", order.cl_ord_id, "ghost: open at the venue, unknown to the active OMS")
                  for order in ghosts]
        found += [("cl_ord_id", order.cl_ord_id, "rejected by the venue")
                  for order in evidence.ledger.orders if order.status.value == "rejected"]
    for op in ops:
        if op.kind == OpKind.CLIENT and op.f == "place" and op.type in (OpType.FAIL, OpType.INFO):
            key = next((key for key in ("cl_ord_id", "order_id", "corr") if op.value.get(key)), None)
            if key is not None:
                outcome = "failed" if op.type == OpType.FAIL else "unknown outcome"
                why = f"client placement {outcome}: {op.value.get('error', '')}"
                found.append((key, str(op.value[key]), why))
    return list(dict.fromkeys(found))[:MAX_ORDERS * 3]


def _wall_origin(ops: Sequence[Op], clock: Clock) -> float | None:
    """The run's origin as epoch seconds (a log line's ``ts`` is epoch seconds)."""
    start = next((op for op in ops if op.t_ns == clock.origin_ns), None)
    if start is None:
        return None
    try:
        return datetime.fromisoformat(start.wall).timestamp()
    except ValueError:
        return None


def _line(entry: dict[str, Any], origin: float | None) -> TrailLine:
    ts = entry.get("ts")
    t_s = round(ts - origin, 3) if isinstance(ts, int | float) and origin is not None else None
    return TrailLine(t_s=t_s, service=str(entry.get("service", "")), level=str(entry.get("level", "")),
                     event=str(entry.get("event", "")), msg=str(entry.get("msg", ""))[:300],
                     ids={key: str(entry[key]) for key in ID_KEYS if entry.get(key) is not None})


def _trail(key: str, value: str, logs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    seeds = [entry for entry in logs if str(entry.get(key)) == value]
    joined = {(join, str(entry[join])) for entry in seeds for join in JOIN_KEYS
              if entry.get(join) is not None}
    found = [entry for entry in logs
             if any(entry.get(join) is not None and (join, str(entry[join])) in joined for join in JOIN_KEYS)]
    return sorted(found, key=_ts)


def _ts(entry: dict[str, Any]) -> float:
    ts = entry.get("ts")
    return float(ts) if isinstance(ts, int | float) else 0.0


def order_trails(ops: Sequence[Op], logs: Iterable[dict[str, Any]], clock: Clock) -> tuple[OrderTrail, ...]:
    collected = list(logs)
    if not collected:
        return ()
    origin = _wall_origin(ops, clock)
    trails = []
    for key, value, why in _subjects(ops):
        found = _trail(key, value, collected)
        if not found:
            continue
        trails.append(OrderTrail(subject=f"{key}={value}", why=why,
                                 lines=tuple(_line(entry, origin) for entry in found[:MAX_LINES]),
                                 more=max(0, len(found) - MAX_LINES)))
        if len(trails) == MAX_ORDERS:
            break
    return tuple(trails)
