"""``alerts.unknown_open_order`` and ``alerts.total``: the alerts the OMS instances raised."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence
from typing import Any

from gameday.checker_specs import ALERTS_TOTAL, ALERTS_UNKNOWN_OPEN_ORDER
from gameday.checkers.base import Observation, Specified
from gameday.checkers.records import (
    Alert,
    AlertEvent,
    Reference,
    UnknownOrderDetail,
    parse_value,
    reference,
    sut_events,
)
from gameday.history import Op, OpKind

__all__ = ["AlertTotal", "UnknownOpenOrders"]

MAX_LISTED_ALERTS = 20
_INFORMATIONAL = frozenset({Alert.PROMOTION_RECONCILED, Alert.EXECUTIONS_RECOVERED})


def _unknown_order(alert: AlertEvent, ref: Reference) -> dict[str, Any]:
    where = f"the detail of the {alert.alert} alert of {alert.instance} at {alert.t_ns}"
    detail = parse_value(UnknownOrderDetail, alert.detail, where)
    return {
        "instance": alert.instance,
        "order_id": detail.order_id,
        "exchange_order_id": detail.exchange_order_id,
        "symbol": detail.symbol,
        "qty": detail.qty,
        **ref.instant(alert.t_ns),
    }


class _AlertCount(Specified, ABC):
    """Counts alerts; absent only when no SUT event at all was recorded."""

    def check(self, ops: Sequence[Op]) -> Observation:
        if not any(op.kind == OpKind.SUT for op in ops):
            return Observation.absent(self.unit, "no SUT event recorded (the NATS recorder was not running)")
        return self._count(sut_events(ops, "alerts", AlertEvent), reference(ops))

    @abstractmethod
    def _count(self, alerts: Sequence[AlertEvent], ref: Reference) -> Observation: ...


class UnknownOpenOrders(_AlertCount):
    spec = ALERTS_UNKNOWN_OPEN_ORDER
    description = "UnknownOpenOrder alerts: open venue orders a promoted OMS did not know about"

    def _count(self, alerts: Sequence[AlertEvent], ref: Reference) -> Observation:
        unknown = [_unknown_order(alert, ref) for alert in alerts if alert.alert == Alert.UNKNOWN_OPEN_ORDER]
        symbols = sorted({order["symbol"] for order in unknown if order["symbol"] is not None})
        return Observation(
            value=len(unknown),
            unit=self.unit,
            evidence={"reference": ref.describe(), "orders": unknown[:MAX_LISTED_ALERTS],
                      "symbols": symbols, "instances": sorted({order["instance"] for order in unknown})},
            note=f"{len(unknown)} unknown open order(s)" + (f" in {', '.join(symbols)}" if symbols else ""),
        )


class AlertTotal(_AlertCount):
    spec = ALERTS_TOTAL
    description = "alerts the OMS instances raised, except the informational PromotionReconciled"

    def _count(self, alerts: Sequence[AlertEvent], ref: Reference) -> Observation:
        raised = [alert for alert in alerts if alert.alert not in _INFORMATIONAL]
        by_name = Counter(alert.alert for alert in raised)
        listed = [{"instance": alert.instance, "alert": alert.alert, **ref.instant(alert.t_ns)}
                  for alert in raised[:MAX_LISTED_ALERTS]]
        return Observation(
            value=len(raised),
            unit=self.unit,
            evidence={"reference": ref.describe(), "by_alert": dict(sorted(by_name.items())),
                      "by_instance": dict(sorted(Counter(alert.instance for alert in raised).items())),
                      "informational": len(alerts) - len(raised), "alerts": listed},
            note=", ".join(f"{name} {count}" for name, count in sorted(by_name.items())) or "no alert raised",
        )
