"""A tiny builder of hand-made histories for checker tests; times are seconds from the start."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gameday.history import Op, OpKind, OpType

T0_NS = 5_000_000_000_000


def ns(seconds: float) -> int:
    return T0_NS + round(seconds * 1e9)


def ledger_order(cl_ord_id: str, instance: str, received_s: float, *, symbol: str = "BTC-USD",
                 side: str = "buy", qty: int = 1, cum_qty: int = 0, status: str = "new") -> dict[str, Any]:
    return {
        "order_id": f"X-{cl_ord_id}", "cl_ord_id": cl_ord_id, "sender_comp_id": instance.upper(),
        "sender_sub_id": instance, "instance": instance, "symbol": symbol, "side": side,
        "ord_type": "limit", "price": 100.0, "qty": qty, "cum_qty": cum_qty, "leaves_qty": qty - cum_qty,
        "status": status, "received_ns": ns(received_s), "events": [],
    }


def ledger_fill(exec_id: str, instance: str, symbol: str, side: str, qty: int,
                t_s: float = 1.0) -> dict[str, Any]:
    return {"exec_id": exec_id, "order_id": f"X-{exec_id}", "cl_ord_id": f"{instance}-1-{exec_id}",
            "instance": instance, "symbol": symbol, "side": side, "qty": qty, "price": 100.0, "t_ns": ns(t_s)}


def database_fill(fill: dict[str, Any], *, delay_s: float = 0.005) -> dict[str, Any]:
    """The OMS's ``oms_fills`` row for a ledger fill, committed ``delay_s`` after the venue filled it."""
    return {"exec_id": fill["exec_id"], "cl_ord_id": fill["cl_ord_id"], "symbol": fill["symbol"],
            "written_ns": fill["t_ns"] + round(delay_s * 1e9)}


def database_order(order: dict[str, Any], *, delay_s: float = 0.005) -> dict[str, Any]:
    """The OMS's ``oms_orders`` row for a ledger order, last written ``delay_s`` after the venue got it."""
    return {"cl_ord_id": order["cl_ord_id"], "status": order["status"],
            "written_ns": order["received_ns"] + round(delay_s * 1e9)}


def oms_order(order_id: str, instance: str, symbol: str = "BTC-USD") -> dict[str, Any]:
    return {"order_id": order_id, "exchange_order_id": f"X-{order_id}", "symbol": symbol, "side": "buy",
            "qty": 1, "cum_qty": 0, "status": "new", "instance": instance, "price": 100.0}


class HistoryBuilder:
    def __init__(self) -> None:
        self.ops: list[Op] = []

    def add(self, kind: OpKind, type_: OpType, process: str, f: str, value: dict[str, Any] | None = None,
            *, at: float) -> HistoryBuilder:
        self.ops.append(Op(index=len(self.ops), t_ns=ns(at), wall=f"2026-01-01T00:00:{at:09.6f}+00:00",
                           kind=kind, type=type_, process=process, f=f, value=value or {}))
        return self

    def run_start(self, *, run_id: str = "run-1", seed: int = 7, defects: tuple[str, ...] = (),
                  at: float = 0.0) -> HistoryBuilder:
        value = {"run_id": run_id, "scenario": "s", "seed": seed, "defects": list(defects), "services": {}}
        return self.add(OpKind.RUN, OpType.INFO, "runner", "start", value, at=at)

    def run_end(self, *, status: str = "completed", at: float) -> HistoryBuilder:
        return self.add(OpKind.RUN, OpType.INFO, "runner", "end", {"status": status}, at=at)

    def fault(self, f: str, *, at: float, target: str | None = None, proxy: str | None = None,
              outcome: OpType = OpType.OK, fault_id: str | None = None) -> HistoryBuilder:
        value: dict[str, Any] = {"fault_id": fault_id or f"{f}-0"}
        value.update({"target": target} if target else {"proxy": proxy})
        self.add(OpKind.FAULT, OpType.INVOKE, "nemesis", f, value, at=at)
        return self.add(OpKind.FAULT, outcome, "nemesis", f, value, at=at + 0.001)

    def trade(self, *, at: float, instance: str | None = None, error: str = "connection refused",
              outcome: OpType | None = None, symbol: str | None = None,
              rejected: str | None = None) -> HistoryBuilder:
        """A trade probe completing ``at``: ok on ``instance``, else failed with ``error``.

        ``symbol`` is recorded on the invoke only (as an older harness did not on the completion);
        ``rejected`` makes the failure the OMS's 502 with the venue's reject text.
        """
        self.add(OpKind.PROBE, OpType.INVOKE, "probe-trade", "trade", {"symbol": symbol} if symbol else {},
                 at=at - 0.005)
        result = outcome or (OpType.OK if instance else OpType.FAIL)
        value: dict[str, Any] = (
            {"instance": instance, "order_id": "p", "exchange_order_id": "x", "latency_ms": 5}
            if result == OpType.OK else {"error": error, "tried": ["oms-primary", "oms-dr"]}
        )
        if rejected is not None:
            value = {"status": 502, "error": "venue rejected the order", "text": rejected,
                     "tried": ["oms-dr"]}
        return self.add(OpKind.PROBE, result, "probe-trade", "trade", value, at=at)

    def place(self, *, at: float, outcome: OpType, error: str = "venue did not answer") -> HistoryBuilder:
        self.add(OpKind.CLIENT, OpType.INVOKE, "worker-0", "place",
                 {"symbol": "BTC-USD", "side": "buy", "qty": 1, "type": "limit", "price": 100.0}, at=at)
        ok: dict[str, Any] = {"instance": "oms-primary", "order": {}}
        value = ok if outcome == OpType.OK else {"error": error}
        return self.add(OpKind.CLIENT, outcome, "worker-0", "place", value, at=at + 0.01)

    def final_state(self, *, active: str | None, instances: dict[str, dict[str, Any]], stable: bool = True,
                    at: float = 40.0) -> HistoryBuilder:
        value = {"active": active, "instances": instances, "stable": stable}
        return self.add(OpKind.PROBE, OpType.OK, "probe-final", "final-state", value, at=at)

    def ledger(self, *, orders: Sequence[dict[str, Any]] = (), fills: Sequence[dict[str, Any]] = (),
               at: float = 40.1) -> HistoryBuilder:
        value = {"orders": list(orders), "fills": list(fills), "sessions": [], "now_ns": ns(at)}
        return self.add(OpKind.LEDGER, OpType.OK, "venue", "snapshot", value, at=at)

    def database(self, *, fills: Sequence[dict[str, Any]] = (), orders: Sequence[dict[str, Any]] = (),
                 complete: bool = True, waited_s: float = 0.0, at: float = 40.2) -> HistoryBuilder:
        """The ``probe-database`` capture the runner records after the ledger snapshot.

        ``fills`` and ``orders`` are rows as :func:`database_fill` and :func:`database_order` make
        them; ``complete`` says whether the database held every fill of the last ledger snapshot.
        """
        value = {"server_port": 5432, "in_recovery": False, "fills": list(fills), "orders": list(orders),
                 "complete": complete, "waited_s": waited_s}
        return self.add(OpKind.PROBE, OpType.OK, "probe-database", "database", value, at=at)

    def sut(self, f: str, value: dict[str, Any], *, at: float,
            happened: float | None = None) -> HistoryBuilder:
        """A SUT event on ``oms.<f>`` recorded ``at``; its own ``t_ns`` says ``happened`` (default ``at``)."""
        event = {**value, "t_ns": ns(at if happened is None else happened)}
        return self.add(OpKind.SUT, OpType.INFO, f"oms.{f}", f, event, at=at)

    def failover_decision(self, decision: str, *, at: float, daemon: str = "failover",
                          failures: Sequence[int] = (0, 0), reason: str = "all vantages healthy",
                          happened: float | None = None, heartbeat: bool = False) -> HistoryBuilder:
        detail = {"reason": reason, "failures": list(failures), "vantages": list(VANTAGES[:len(failures)])}
        return self.sut("failover", {"daemon": daemon, "decision": decision, "detail": detail,
                                     "heartbeat": heartbeat}, at=at, happened=happened)

    def role(self, instance: str, role: str, *, epoch: int, at: float, reason: str = "") -> HistoryBuilder:
        """An ``oms.roles`` event: ``instance`` says it is ``role`` under lease ``epoch``."""
        return self.sut("roles", {"instance": instance, "role": role, "epoch": epoch, "reason": reason,
                                  "version": "1.4.2"}, at=at)

    def health(self, roles: dict[str, str | None], *, at: float) -> HistoryBuilder:
        """A ``probe-health`` sample: each instance's role (``None``: it did not answer)."""
        instances = {name: {"role": role, "deep_ok": role is not None} for name, role in roles.items()}
        return self.add(OpKind.PROBE, OpType.OK, "probe-health", "health", {"instances": instances}, at=at)

    def alert(self, alert: str, *, at: float, instance: str = "oms-dr", **detail: Any) -> HistoryBuilder:
        return self.sut("alerts", {"instance": instance, "alert": alert, "detail": detail}, at=at)

    def replication(self, lag_ms: float, *, at: float, instance: str = "oms-dr",
                    backlog: int = 0, happened: float | None = None) -> HistoryBuilder:
        value = {"instance": instance, "lag_ms": lag_ms, "backlog": backlog}
        return self.sut("replication", value, at=at, happened=happened)

    def action(self, f: str, value: dict[str, Any], *, at: float,
               outcome: OpType = OpType.OK) -> HistoryBuilder:
        """An operator action invoked ``at`` that completes 1 ms later with ``outcome``."""
        self.add(OpKind.ACTION, OpType.INVOKE, "operator", f, value, at=at)
        return self.add(OpKind.ACTION, outcome, "operator", f, value, at=at + 0.001)


    def run_start_declaring_lease(self, *, bucket: str = "oms_lease", ttl_s: float = 2.0,
                                  at: float = 0.0) -> HistoryBuilder:
        """A run start whose stack declares its lease bucket (as ``LocalStack.describe`` does)."""
        value = {"run_id": "run-1", "scenario": "s", "seed": 7, "defects": [], "services": {},
                 "lease": {"bucket": bucket, "ttl_s": ttl_s}}
        return self.add(OpKind.RUN, OpType.INFO, "runner", "start", value, at=at)

    def lease_write(self, instance: str | None, *, at: float, sent: float | None = None, op: str = "PUT",
                    epoch: int = 1, key: str = "active", bucket: str = "oms_lease",
                    ttl_s: float | None = 2.0) -> HistoryBuilder:
        """A write the lease bucket stored, received ``at``; a put says it was ``sent`` (default ``at``)."""
        put = op == "PUT"
        value = {"key": key, "op": op, "instance": instance if put else None, "epoch": epoch if put else None,
                 "t_ns": ns(at if sent is None else sent) if put else None, "revision": len(self.ops) + 1,
                 "bucket": bucket, "ttl_s": ttl_s}
        return self.add(OpKind.SUT, OpType.INFO, f"$KV.{bucket}.{key}", "lease", value, at=at)

    def lease_renewals(self, instance: str, *, start: float, end: float, every: float = 0.4,
                       epoch: int = 1) -> HistoryBuilder:
        """``instance`` creates the key at ``start`` and updates it every ``every`` s up to ``end``."""
        steps = round((end - start) / every)
        for step in range(steps + 1):
            self.lease_write(instance, at=round(start + step * every, 6), epoch=epoch)
        return self


VANTAGES = ("http://vantage-a/health/deep", "http://vantage-b/health/deep", "http://vantage-c/health/deep")


def resting_order(order_id: str, *, symbol: str = "BTC-USD", exchange_order_id: str | None = None,
                  qty: int = 1) -> dict[str, Any]:
    return {"order_id": order_id, "exchange_order_id": exchange_order_id, "symbol": symbol, "side": "buy",
            "qty": qty, "price": 99.0}


def instance_state(role: str, positions: dict[str, int] | None = None,
                   open_orders: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"role": role, "positions": positions or {}, "open_orders": open_orders or []}


def failover_history(*, recovered: bool = True, old_primary_keeps_sending: bool = False,
                     unpersisted: Sequence[str] = ()) -> HistoryBuilder:
    """A whole run of the failover scenario: kill oms-primary at 10 s, oms-dr trades from 13 s.

    The OMS's database holds every ledger fill and order at the end, but the fills whose exec ids
    are ``unpersisted`` (the venue filled them; the OMS never committed them).
    """
    defects = ("no-fencing",) if old_primary_keeps_sending else ()
    history = HistoryBuilder().run_start(run_id="run-42", defects=defects)
    history.health({"oms-primary": "active", "oms-dr": "standby"}, at=0.5)
    history.place(at=1.0, outcome=OpType.OK).trade(at=5.0, instance="oms-primary")
    history.fault("kill", at=10.0, target="oms-primary")
    history.trade(at=11.0).trade(at=12.0)
    if recovered:
        history.role("oms-dr", "active", epoch=2, at=12.9, reason="promoted (admin)")
        history.trade(at=13.001, instance="oms-dr").trade(at=14.0, instance="oms-dr")
        history.trade(at=15.5, instance="oms-dr")
    primary_times = (1.0, 5.0, 14.0) if old_primary_keeps_sending else (1.0, 5.0)
    orders = [ledger_order(f"oms-primary-1-{n}", "oms-primary", t, status="filled")
              for n, t in enumerate(primary_times)]
    if recovered:
        orders.append(ledger_order("oms-dr-1-0", "oms-dr", 13.0, status="filled"))
    fills = [ledger_fill("e1", "oms-primary", "BTC-USD", "buy", 1),
             ledger_fill("e2", "oms-dr", "BTC-USD", "buy", 1)]
    history.final_state(active="oms-dr" if recovered else None, instances={
        "oms-dr": instance_state("active" if recovered else "standby", {"BTC-USD": 2}),
    })
    history.ledger(orders=orders, fills=fills)
    stored = [database_fill(fill) for fill in fills if fill["exec_id"] not in unpersisted]
    complete = len(stored) == len(fills)
    history.database(fills=stored, orders=[database_order(order) for order in orders], complete=complete,
                     waited_s=0.0 if complete else 1.0)
    return history.run_end(at=41.0)


def store_backlog(history: HistoryBuilder, instance: str, queued: int, *, at: float, written: int = 0,
                  dropped: int = 0, oldest_age_s: float = 0.0, connected: bool = True) -> HistoryBuilder:
    """An ``oms.store_backlog`` sample: ``instance``'s database writer at ``at``."""
    return history.sut("store_backlog", {"instance": instance, "queued": queued, "in_flight": min(queued, 5),
                                         "oldest_age_s": oldest_age_s, "written": written, "dropped": dropped,
                                         "connected": connected}, at=at)
