"""``orders.ghost``: orders open at the venue that the active OMS does not know about."""

from __future__ import annotations

from collections.abc import Sequence

from gameday.checker_specs import ORDERS_GHOST
from gameday.checkers.base import Observation, Specified
from gameday.checkers.evidence import Missing, active_at_end
from gameday.history import Op

__all__ = ["GhostOrders"]


class GhostOrders(Specified):
    spec = ORDERS_GHOST
    description = "orders open at the venue that are missing from the active OMS's open orders"

    def check(self, ops: Sequence[Op]) -> Observation:
        evidence = active_at_end(ops)
        if isinstance(evidence, Missing):
            return evidence.observation(self.unit)
        active, ledger = evidence, evidence.ledger
        known = {order.order_id for order in active.open_orders}
        venue_open = [order for order in ledger.orders if order.status.is_open]
        ghosts = [
            {"cl_ord_id": order.cl_ord_id, "instance": order.instance, "symbol": order.symbol,
             "leaves_qty": order.leaves_qty}
            for order in venue_open if order.cl_ord_id not in known
        ]
        return Observation(
            value=len(ghosts),
            unit=self.unit,
            evidence={"active": active.name, "venue_open": len(venue_open),
                      "oms_open": len(known), "ghosts": ghosts},
            note=f"{len(ghosts)} of {len(venue_open)} open venue orders unknown to {active.name}",
        )
