"""Hand-made histories of deployment game days for checker tests; times are seconds from the start."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gameday.history import OpKind, OpType
from tests.unit.history_builder import HistoryBuilder, ns

BLUE, GREEN = "oms-blue", "oms-green"
TERMINAL = ("filled", "canceled", "rejected")


def publish(history: HistoryBuilder, subject: str, value: dict[str, Any], *, at: float,
            happened: float | None = None) -> HistoryBuilder:
    """A message on ``subject`` recorded ``at``; its own ``t_ns`` says ``happened`` (default ``at``)."""
    event = {**value, "t_ns": ns(at if happened is None else happened)}
    return history.add(OpKind.SUT, OpType.INFO, subject, subject.rsplit(".", 1)[-1], event, at=at)


def run_start(history: HistoryBuilder, **fields: Any) -> HistoryBuilder:
    value = {"run_id": "run-1", "scenario": "s", "seed": 1, "defects": [], "services": {}, **fields}
    return history.add(OpKind.RUN, OpType.INFO, "runner", "start", value, at=0.0)


def phase(history: HistoryBuilder, phase_: str, reason: str, *, at: float, **extra: Any) -> HistoryBuilder:
    return publish(history, "deploy.phases", {"phase": phase_, "previous": "idle", "reason": reason, **extra},
                   at=at)


def verdict(history: HistoryBuilder, verdict_: str, *, at: float, lag_s: float = 0.1) -> HistoryBuilder:
    return publish(history, "deploy.verdicts", {"verdict": verdict_, "lag_ns": round(lag_s * 1e9),
                                                "compared": 10, "pending": 0}, at=at)


def role(history: HistoryBuilder, instance: str, role_: str, version: str | None, *,
         at: float) -> HistoryBuilder:
    value: dict[str, Any] = {"instance": instance, "role": role_, "epoch": 1, "reason": "start"}
    if version is not None:
        value["version"] = version
    return publish(history, "oms.roles", value, at=at)


def order(cl_ord_id: str, instance: str, received_s: float, *, side: str = "buy", qty: int = 1,
          symbol: str = "BTC-USD", status: str = "filled", closed_s: float | None = None) -> dict[str, Any]:
    """A ledger order; a terminal one closes ``closed_s`` (default 10 ms after it was received)."""
    events = [{"t_ns": ns(received_s), "status": "new", "exec_type": "new", "exec_id": f"{cl_ord_id}-0"}]
    if status in TERMINAL:
        closed = received_s + 0.01 if closed_s is None else closed_s
        events.append({"t_ns": ns(closed), "status": status, "exec_type": "trade",
                       "exec_id": f"{cl_ord_id}-1"})
    return {"order_id": f"X-{cl_ord_id}", "cl_ord_id": cl_ord_id, "sender_comp_id": instance.upper(),
            "sender_sub_id": instance, "instance": instance, "symbol": symbol, "side": side,
            "ord_type": "market", "price": None, "qty": qty, "cum_qty": qty if status == "filled" else 0,
            "leaves_qty": 0 if status in TERMINAL else qty, "status": status, "received_ns": ns(received_s),
            "events": events}


def fill(exec_id: str, instance: str, t_s: float, *, side: str = "buy", qty: int = 1, price: float = 100.0,
         symbol: str = "BTC-USD") -> dict[str, Any]:
    return {"exec_id": exec_id, "order_id": f"X-{exec_id}", "cl_ord_id": f"{instance}-1-{exec_id}",
            "instance": instance, "symbol": symbol, "side": side, "qty": qty, "price": price, "t_ns": ns(t_s)}


def steady_orders(instance: str, start_s: float, end_s: float, every_s: float, **fields: Any,
                  ) -> list[dict[str, Any]]:
    """One order every ``every_s`` from ``start_s`` up to and including ``end_s``."""
    count = round((end_s - start_s) / every_s) + 1
    return [order(f"{instance}-1-{start_s}-{n}", instance, round(start_s + n * every_s, 6), **fields)
            for n in range(count)]


def ledger(history: HistoryBuilder, orders: Sequence[dict[str, Any]] = (),
           fills: Sequence[dict[str, Any]] = (), *, at: float = 60.0) -> HistoryBuilder:
    return history.ledger(orders=orders, fills=fills, at=at)
