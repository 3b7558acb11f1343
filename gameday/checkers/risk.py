"""Operator actions held against the venue's ledger.

``risk.limit_breaches``: orders above a symbol's risk limit that reached the venue after the
limit was set. ``orders.resting_cancelled``: resting orders an operator placed that ended canceled.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gameday.checker_specs import ORDERS_RESTING_CANCELLED, RISK_LIMIT_BREACHES
from gameday.checkers.base import Observation, Specified
from gameday.checkers.evidence import LedgerOrder, LedgerSnapshot, OrderStatus, ledger_snapshot
from gameday.checkers.records import (
    Reference,
    RestingOrder,
    RestingOrders,
    RiskLimit,
    actions,
    parse,
    reference,
    seconds,
)
from gameday.history import Op

__all__ = ["RestingOrdersCancelled", "RiskLimitBreaches"]

MAX_LISTED_ORDERS = 20
_NO_LEDGER = "no ledger snapshot in the history"


@dataclass(frozen=True)
class _Limit:
    limit: RiskLimit
    set_ns: int

    def admits(self, order: LedgerOrder) -> bool:
        return order.qty <= self.limit.max_order_qty

    def describe(self, ref: Reference) -> dict[str, Any]:
        return {"instance": self.limit.instance, "max_order_qty": self.limit.max_order_qty,
                "set": ref.instant(self.set_ns)}


def _latest_limits(ops: Sequence[Op]) -> dict[str, _Limit]:
    """The limit in force per symbol: the latest ``risk-limit`` action that succeeded."""
    latest: dict[str, _Limit] = {}
    for op in actions(ops, "risk-limit"):
        limit = parse(RiskLimit, op)
        latest[limit.symbol] = _Limit(limit, op.t_ns)
    return latest


def _after_limits(ledger: LedgerSnapshot, limits: dict[str, _Limit]) -> list[tuple[LedgerOrder, _Limit]]:
    """The orders the venue received after the limit of their symbol was set, earliest first."""
    ordered = sorted(ledger.orders, key=lambda order: order.received_ns)
    return [(order, limits[order.symbol]) for order in ordered
            if order.symbol in limits and order.received_ns > limits[order.symbol].set_ns]


def _breach(order: LedgerOrder, limit: _Limit, ref: Reference) -> dict[str, Any]:
    return {
        "cl_ord_id": order.cl_ord_id, "instance": order.instance, "symbol": order.symbol,
        "qty": order.qty, "limit": limit.limit.max_order_qty, "status": str(order.status),
        "received": ref.instant(order.received_ns),
        "after_limit_s": seconds(order.received_ns - limit.set_ns),
    }


class RiskLimitBreaches(Specified):
    spec = RISK_LIMIT_BREACHES
    description = "orders above a symbol's risk limit that the venue received after the limit was set"

    def check(self, ops: Sequence[Op]) -> Observation:
        limits = _latest_limits(ops)
        if not limits:
            return Observation.absent(self.unit, "no risk-limit action succeeded in this run")
        ledger = ledger_snapshot(ops)
        if ledger is None:
            return Observation.absent(self.unit, _NO_LEDGER)
        ref = reference(ops)
        bound = _after_limits(ledger, limits)
        breaches = [_breach(order, limit, ref) for order, limit in bound if not limit.admits(order)]
        per_symbol = Counter(str(breach["symbol"]) for breach in breaches)
        return Observation(
            value=len(breaches),
            unit=self.unit,
            evidence={
                "reference": ref.describe(),
                "limits": {symbol: limit.describe(ref) for symbol, limit in sorted(limits.items())},
                "orders_checked": len(bound),
                "breaches": breaches[:MAX_LISTED_ORDERS],
            },
            note=(f"{len(breaches)} of {len(bound)} orders after the limits were above them"
                  + "".join(f"; {symbol} {count}" for symbol, count in sorted(per_symbol.items()))),
        )


def _resting(ops: Sequence[Op]) -> list[tuple[str, RestingOrder]]:
    """Every order the ``resting-orders`` actions placed, with the instance that placed it."""
    placed = (parse(RestingOrders, op) for op in actions(ops, "resting-orders"))
    return [(action.instance, order) for action in placed for order in action.orders]


class _LedgerIndex:
    """Finds a placed order in the ledger: by the venue's id when known, else by the OMS's own id."""

    def __init__(self, ledger: LedgerSnapshot) -> None:
        self._by_venue_id = {entry.order_id: entry for entry in ledger.orders}
        self._by_cl_ord_id = {entry.cl_ord_id: entry for entry in ledger.orders}

    def find(self, order: RestingOrder) -> LedgerOrder | None:
        if order.exchange_order_id is not None and order.exchange_order_id in self._by_venue_id:
            return self._by_venue_id[order.exchange_order_id]
        return self._by_cl_ord_id.get(order.order_id)


def _listed(instance: str, order: RestingOrder, found: LedgerOrder | None) -> dict[str, Any]:
    return {"order_id": order.order_id, "exchange_order_id": order.exchange_order_id,
            "symbol": order.symbol, "instance": instance,
            "status": None if found is None else str(found.status)}


class RestingOrdersCancelled(Specified):
    spec = ORDERS_RESTING_CANCELLED
    description = "resting orders placed by the operator that the venue's final ledger shows canceled"

    def check(self, ops: Sequence[Op]) -> Observation:
        placed = _resting(ops)
        if not placed:
            return Observation.absent(self.unit, "no resting-orders action succeeded in this run")
        ledger = ledger_snapshot(ops)
        if ledger is None:
            return Observation.absent(self.unit, _NO_LEDGER)
        index = _LedgerIndex(ledger)
        listed = [_listed(instance, order, index.find(order)) for instance, order in placed]
        missing = [entry for entry in listed if entry["status"] is None]
        if len(missing) == len(listed):
            return Observation.absent(self.unit, f"none of the {len(placed)} resting orders is in the ledger",
                                      missing=missing)
        canceled = [entry for entry in listed if entry["status"] == OrderStatus.CANCELED]
        others = [entry for entry in listed if entry["status"] not in (None, OrderStatus.CANCELED)]
        note = f"{len(canceled)} of {len(listed) - len(missing)} resting orders canceled at the venue"
        return Observation(
            value=len(canceled),
            unit=self.unit,
            evidence={"canceled": canceled, "not_canceled": others, "missing": missing},
            note=note + (f"; {len(missing)} not in the ledger" if missing else ""),
        )
