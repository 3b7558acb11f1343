"""Venue halts and price bands against the orders the venue received, from its ledger alone.

A halt is the venue's state: an OMS that knows of it sends nothing into it, and does not send a
rejected order again as if the reject were a passing failure. The venue writes each change of a
symbol's trading status to its ledger (``trading_status`` in the final snapshot: ``halted`` /
``trading``, its causes, the limit-up/limit-down band in force) and announces it to its sessions
at once; :data:`KNOWN_AFTER_S` later every connected session has had time to hear of it.

- ``orders.sent_into_halt``: orders the venue received on a symbol while it was halted, more than
  :data:`KNOWN_AFTER_S` after the halt began. Unknown when the ledger holds no trading status (a
  venue that does not write one) or no halt happened.
- ``orders.outside_band``: orders the venue refused as priced beyond the band, received more
  than :data:`KNOWN_AFTER_S` after that band was announced. Unknown without any band.

A failover a halt caused is graded by ``failovers.count``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from gameday.checker_specs import ORDERS_OUTSIDE_BAND, ORDERS_SENT_INTO_HALT
from gameday.checkers.base import Observation, Specified, Unit
from gameday.checkers.evidence import last_op
from gameday.checkers.records import Reference, reference, seconds
from gameday.history import Op, OpKind

__all__ = ["KNOWN_AFTER_S", "OrdersOutsideBand", "OrdersSentIntoHalt"]

KNOWN_AFTER_S = 0.5
MAX_LISTED = 20
BAND_TEXT = "limit-up/limit-down band"
_NS = 1_000_000_000


class _Recorded(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _OrderEvent(_Recorded):
    text: str | None = None


class _Order(_Recorded):
    order_id: str
    instance: str | None = None
    symbol: str
    side: str
    price: float | None = None
    status: str
    received_ns: int
    events: list[_OrderEvent] = []

    @property
    def reject_text(self) -> str:
        return (self.events[0].text or "") if self.status == "rejected" and self.events else ""


class _Band(_Recorded):
    lower: float
    upper: float


class _Status(_Recorded):
    t_ns: int
    symbol: str
    state: Literal["halted", "trading"]
    causes: list[str] = []
    band: _Band | None = None
    text: str = ""


class _Snapshot(_Recorded):
    orders: list[_Order] = []
    trading_status: list[_Status] | None = None
    now_ns: int | None = None


@dataclass(frozen=True)
class _Halt:
    symbol: str
    start_ns: int
    end_ns: int | None
    causes: tuple[str, ...]

    def holds(self, order: _Order, after_ns: int) -> bool:
        return (order.symbol == self.symbol and order.received_ns >= self.start_ns + after_ns
                and (self.end_ns is None or order.received_ns < self.end_ns))

    def describe(self, ref: Reference) -> dict[str, Any]:
        return {"symbol": self.symbol, "causes": list(self.causes), "start": ref.instant(self.start_ns),
                "end": None if self.end_ns is None else ref.instant(self.end_ns)}


def _snapshot(ops: Sequence[Op]) -> _Snapshot | None:
    op = last_op(ops, OpKind.LEDGER, "snapshot")
    return None if op is None else _Snapshot.model_validate(op.value)


def halts(statuses: Sequence[_Status]) -> list[_Halt]:
    """Each symbol's halts: from a ``halted`` line after trading to the next ``trading`` line."""
    started: dict[str, tuple[int, set[str]]] = {}
    found: list[_Halt] = []
    for status in statuses:
        if status.state == "halted":
            start = started.setdefault(status.symbol, (status.t_ns, set()))
            start[1].update(status.causes)
        elif status.symbol in started:
            start_ns, causes = started.pop(status.symbol)
            found.append(_Halt(status.symbol, start_ns, status.t_ns, tuple(sorted(causes))))
    found += [_Halt(symbol, start_ns, None, tuple(sorted(causes)))
              for symbol, (start_ns, causes) in started.items()]
    return sorted(found, key=lambda halt: halt.start_ns)


def _listed(order: _Order, ref: Reference, **more: Any) -> dict[str, Any]:
    return {"order_id": order.order_id, "instance": order.instance, "symbol": order.symbol,
            "side": order.side, "price": order.price, "status": order.status,
            "received": ref.instant(order.received_ns), **more}


def _no_status(snapshot: _Snapshot | None, unit: Unit) -> Observation | None:
    if snapshot is None:
        return Observation.absent(unit, "no ledger snapshot in the history")
    if snapshot.trading_status is None:
        return Observation.absent(unit, "the venue's ledger holds no trading status (halts and bands)")
    return None


class OrdersSentIntoHalt(Specified):
    spec = ORDERS_SENT_INTO_HALT
    description = (f"orders the venue received on a halted symbol more than {KNOWN_AFTER_S:g} s after the "
                   "halt began (when every session had been told)")

    def check(self, ops: Sequence[Op]) -> Observation:
        snapshot = _snapshot(ops)
        missing = _no_status(snapshot, self.unit)
        if missing is not None or snapshot is None:
            return missing or Observation.absent(self.unit, "no ledger snapshot in the history")
        found = halts(snapshot.trading_status or [])
        if not found:
            return Observation.absent(self.unit, "the venue halted no symbol in this run")
        ref = reference(ops)
        after_ns = int(KNOWN_AFTER_S * _NS)
        into = [(order, halt) for order in sorted(snapshot.orders, key=lambda order: order.received_ns)
                for halt in found if halt.holds(order, after_ns)]
        per_instance = Counter(f"{order.instance or '?'} {order.symbol}" for order, _ in into)
        listed = [_listed(order, ref, after_halt_s=seconds(order.received_ns - halt.start_ns))
                  for order, halt in into[:MAX_LISTED]]
        return Observation(
            value=len(into), unit=self.unit,
            evidence={"reference": ref.describe(), "halts": [halt.describe(ref) for halt in found],
                      "known_after_s": KNOWN_AFTER_S, "per_instance": dict(sorted(per_instance.items())),
                      "orders": listed},
            note=(f"{len(into)} orders sent into {len(found)} halts"
                  + "".join(f"; {key} {count}" for key, count in sorted(per_instance.items()))),
        )


class OrdersOutsideBand(Specified):
    spec = ORDERS_OUTSIDE_BAND
    description = (f"orders the venue refused as priced beyond the limit-up/limit-down band, more than "
                   f"{KNOWN_AFTER_S:g} s after that band was announced")

    def check(self, ops: Sequence[Op]) -> Observation:
        snapshot = _snapshot(ops)
        missing = _no_status(snapshot, self.unit)
        if missing is not None or snapshot is None:
            return missing or Observation.absent(self.unit, "no ledger snapshot in the history")
        bands = [status for status in snapshot.trading_status or [] if status.band is not None]
        if not bands:
            return Observation.absent(self.unit, "the venue set no price band in this run")
        ref = reference(ops)
        after_ns = int(KNOWN_AFTER_S * _NS)
        outside = []
        for order in sorted(snapshot.orders, key=lambda order: order.received_ns):
            if BAND_TEXT not in order.reject_text:
                continue
            announced = [s.t_ns for s in bands if s.symbol == order.symbol and s.t_ns <= order.received_ns]
            if announced and order.received_ns - announced[-1] >= after_ns:
                outside.append(_listed(order, ref, text=order.reject_text,
                                       after_band_s=seconds(order.received_ns - announced[-1])))
        return Observation(
            value=len(outside), unit=self.unit,
            evidence={"reference": ref.describe(), "bands_announced": len(bands),
                      "known_after_s": KNOWN_AFTER_S, "orders": outside[:MAX_LISTED]},
            note=f"{len(outside)} orders priced beyond a band announced {KNOWN_AFTER_S:g} s or more before",
        )
