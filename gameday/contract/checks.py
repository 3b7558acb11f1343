"""The SUT contract as checks: what ``gameday contract check`` verifies, and which expectations need it.

Each :class:`Check` names a route of the OMS HTTP API (docs/contracts.md §4) or of the venue's admin
API (§3), what is verified of it, why the harness needs it, and the expectations (checker names) it
makes ungradable when the stack does not conform: they come out ``unknown``, or are graded on evidence
that does not mean what the checker takes it to mean. ``blocks_run``: without it no run starts at all
(the harness waits for an instance answering ``/role`` active and ``/health/deep`` 200), so every
expectation is ungradable.

The shape validators below are pure: a parsed body in, ``None`` or the problem out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

__all__ = [
    "CHECKS",
    "CHECKS_BY_ID",
    "ORDER_KEYS",
    "ROLES",
    "STACK",
    "Check",
    "CheckResult",
    "Outcome",
    "Scope",
    "deep_health_problem",
    "order_fields",
    "order_problem",
    "orders_problem",
    "positions_problem",
    "role_problem",
]

ROLES = frozenset({"active", "standby", "shadow", "fenced", "dormant", "parked"})
ORDER_KEYS = ("order_id", "exchange_order_id", "symbol", "side", "qty", "cum_qty", "status", "instance",
              "price")
STACK = "stack"
"""The scope of checks about the stack as a whole (the venue, which instance is active)."""


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIPPED = "skipped"


class Scope(StrEnum):
    STACK = "stack"
    INSTANCE = "instance"


@dataclass(frozen=True)
class Check:
    id: str
    scope: Scope
    route: str
    verifies: str
    why: str
    """Why the harness needs it (the docs' table)."""
    needed_by: tuple[str, ...] = ()
    blocks_run: bool = False


@dataclass(frozen=True)
class CheckResult:
    check_id: str
    scope: str
    """``stack``, or the instance's name in the target file."""
    outcome: Outcome
    detail: str = ""
    """What was seen (a failure), why it was skipped, or what passed."""


_TRADE_PROBE = ("rto.failover", "trading.gap", "trading.unavailable_s", "trading.available_at_end")
_CLIENT = ("orders.client_failed", "orders.client_unknown")
_OPEN_ORDERS = ("orders.ghost", "orders.before_ghosts_alerted")
_LEDGER_READERS = (
    "positions.mismatch_bps", "orders.ghost", "writers.concurrent_active", "fills.lost",
    "orders.sent_without_lease", "orders.before_ghosts_alerted", "risk.limit_breaches",
    "orders.resting_cancelled", "breaker.time_to_halt", "breaker.time_to_flat",
    "breaker.entries_after_halt", "deploy.cutover_gap", "exposure.beyond_intended",
    "reports.dropped", "reports.duplicated", "reports.delayed",
)

CHECKS: tuple[Check, ...] = (
    Check("stack.active", Scope.STACK, "GET /role + GET /health/deep",
          "exactly one instance answers role active with deep health 200",
          "a run starts only once one instance is active and deep-healthy; the round trip needs it",
          blocks_run=True),
    Check("venue.ledger", Scope.STACK, "GET {venue}/ledger",
          'the venue answers 200 with {"orders": [...], "fills": [...]} the checkers can read',
          "the ledger of truth: every ledger-based checker grades against its snapshot", _LEDGER_READERS),
    Check("health", Scope.INSTANCE, "GET /health", "200",
          "liveness; the harness reads it only on stacks it starts itself"),
    Check("health.deep", Scope.INSTANCE, "GET /health/deep",
          "200 or 503 with a JSON object carrying role (str) and ready (bool); 200 exactly when ready",
          "the health probe records deep_ok per instance every tick; a run waits for an active, "
          "deep-healthy instance", ("deploy.cutover_on_stale_evidence",)),
    Check("role", Scope.INSTANCE, "GET /role",
          f"a JSON object with instance (str) and role ({'|'.join(sorted(ROLES))})",
          "the final state takes the active instance from it; the health probe records it",
          ("positions.mismatch_bps", "orders.ghost", "trading.available_at_end",
           "orders.before_ghosts_alerted", "orders.sent_without_lease", "deploy.cutover_on_stale_evidence")),
    Check("role.name", Scope.INSTANCE, "GET /role",
          "its instance is the instance's name in the target file",
          "the harness names instances as the target file does, the SUT's events and the venue's ledger "
          "as the SUT names itself; checkers match the two", ("orders.sent_without_lease",
                                                             "orders.before_ghosts_alerted")),
    Check("positions", Scope.INSTANCE, "GET /positions", '{"positions": {symbol: int}, "fills": int}',
          "the final state's positions, graded against the ledger's fills", ("positions.mismatch_bps",)),
    Check("orders.open", Scope.INSTANCE, "GET /orders?status=open",
          f"a JSON list of Orders, each with {', '.join(ORDER_KEYS)}",
          "the final state's open orders: what the active instance knows", _OPEN_ORDERS),
    Check("orders.bad_json", Scope.INSTANCE, "POST /orders",
          "a body that is not JSON gets a 4xx (not a 5xx, not a hang)",
          "robustness: a malformed request must neither crash nor stall the instance"),
    Check("admin.unauthorized", Scope.INSTANCE, "PUT /admin/risk-limits",
          "401 without the admin token (the body is invalid: nothing can be stored)",
          "only the operator may trip kill switches and set limits"),
    Check("admin.token", Scope.INSTANCE, "PUT /admin/risk-limits",
          "the target file's token passes the guard: an invalid body gets 400/409/422/503, not 401/403",
          "the operator's risk-limit and kill-switch actions authenticate with it",
          ("risk.limit_breaches", "breaker.time_to_halt", "breaker.time_to_flat",
           "breaker.entries_after_halt")),
    Check("orders.refused", Scope.INSTANCE, "POST /orders",
          "an instance that is not active answers 503 and sends nothing",
          "the client and the trade probe move on to the next instance only on 503: anything else "
          "counts as a failed (or unknown) order", _TRADE_PROBE + _CLIENT),
    Check("orders.place", Scope.INSTANCE, "POST /orders",
          "the active instance answers a limit buy far below the market with 201 and an Order",
          "the workload and the trade probe place orders this way", _TRADE_PROBE + _CLIENT),
    Check("orders.listed", Scope.INSTANCE, "GET /orders?status=open", "the placed order is listed as open",
          "an open order the active instance does not list reads as a ghost", _OPEN_ORDERS),
    Check("orders.cancel", Scope.INSTANCE, "DELETE /orders/{order_id}",
          "200 with the Order, status canceled",
          "the trade probe cancels every order it placed; without it each probe leaves an order resting"),
    Check("orders.unlisted", Scope.INSTANCE, "GET /orders?status=open",
          "the canceled order is no longer listed as open",
          "open orders are open orders: the final state takes them as the instance's book"),
    Check("ledger.order_id", Scope.INSTANCE, "GET {venue}/ledger",
          "the venue holds the order with cl_ord_id = the Order's order_id",
          "ghosts are the venue's open orders whose cl_ord_id the active instance does not list",
          _OPEN_ORDERS),
    Check("ledger.attributed", Scope.INSTANCE, "GET {venue}/ledger",
          "the venue attributes the order (instance, from SenderSubID) to the instance that placed it",
          "writers are told apart by the ledger's instance",
          ("writers.concurrent_active", "orders.sent_without_lease", "orders.before_ghosts_alerted",
           "deploy.cutover_gap")),
    Check("ledger.canceled", Scope.INSTANCE, "GET {venue}/ledger",
          "the venue shows the order canceled once DELETE answered 200",
          "an order the OMS calls canceled but the venue keeps open is a ghost", ("orders.ghost",)),
    Check("positions.round_trip", Scope.INSTANCE, "POST /orders + GET /positions",
          "(--trade) a market buy of 1 then a sell of 1 move the position +1 then back, fills grow",
          "the final state's positions must follow the fills", ("positions.mismatch_bps",)),
)
CHECKS_BY_ID: Mapping[str, Check] = MappingProxyType({check.id: check for check in CHECKS})


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _name(value: object) -> str:
    return "nothing" if value is None else type(value).__name__


def deep_health_problem(status: int, body: object) -> str | None:
    if status not in (200, 503):
        return f"expected 200 or 503, got {status}"
    if not isinstance(body, dict):
        return f"expected a JSON object, got {_name(body)}"
    if not isinstance(body.get("role"), str):
        return f"role: expected a string, got {body.get('role')!r}"
    ready = body.get("ready")
    if not isinstance(ready, bool):
        return f"ready: expected true or false, got {ready!r}"
    if ready != (status == 200):
        return f"answered {status} with ready={str(ready).lower()}"
    return None


def role_problem(body: object) -> str | None:
    if not isinstance(body, dict):
        return f"expected a JSON object, got {_name(body)}"
    instance = body.get("instance")
    if not isinstance(instance, str) or not instance:
        return f"instance: expected a non-empty string, got {instance!r}"
    if body.get("role") not in ROLES:
        return f"role: expected one of {', '.join(sorted(ROLES))}, got {body.get('role')!r}"
    return None


def positions_problem(body: object) -> str | None:
    if not isinstance(body, dict):
        return f"expected a JSON object, got {_name(body)}"
    positions = body.get("positions")
    if not isinstance(positions, dict):
        return f"positions: expected an object of symbol → int, got {_name(positions)}"
    wrong = {symbol: qty for symbol, qty in positions.items() if not _is_int(qty)}
    if wrong:
        return f"positions: expected integer quantities, got {wrong!r}"
    if not _is_int(body.get("fills")):
        return f"fills: expected an integer, got {body.get('fills')!r}"
    return None


def order_problem(body: object) -> str | None:
    if not isinstance(body, dict):
        return f"expected an Order object, got {_name(body)}"
    missing = [key for key in ORDER_KEYS if key not in body]
    if missing:
        return f"Order lacks {', '.join(missing)}"
    if not isinstance(body["order_id"], str) or not body["order_id"]:
        return f"order_id: expected a non-empty string, got {body['order_id']!r}"
    return None


def orders_problem(body: object) -> str | None:
    if not isinstance(body, list):
        return f"expected a JSON list, got {_name(body)}"
    for index, order in enumerate(body):
        problem = order_problem(order)
        if problem is not None:
            return f"[{index}]: {problem}"
    return None


def order_fields(body: object) -> dict[str, Any]:
    """An Order body's fields, or none when it is not an object."""
    return dict(body) if isinstance(body, dict) else {}
