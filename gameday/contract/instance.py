"""Probes of one OMS instance that change nothing: health, role, positions, open orders, refusals.

Each request is bounded and goes through the target's OMS API (its adapter, if it names one); every
answer is judged by the pure validators of :mod:`gameday.contract.checks`, so garbage (non-JSON, wrong
types, a refused connection, an adapter that raised) is a failed check, never a crash.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from gameday.contract.checks import (
    deep_health_problem,
    orders_problem,
    positions_problem,
    role_problem,
)
from gameday.contract.http import Answer, Http
from gameday.contract.results import Results
from gameday.oms_api import Endpoint, OmsOp

__all__ = ["INSTANCE_READS", "AdminToken", "InstanceView", "json_problem", "read_instance"]

INSTANCE_READS = ("health", "health.deep", "role", "role.name", "positions", "orders.open", "orders.bad_json",
                  "admin.unauthorized", "admin.token")
MALFORMED_ORDER = b'{"symbol": "BTC-USD", "side": '
INVALID_LIMIT_SYMBOL, INVALID_LIMIT_QTY = "", -1
"""A risk limit refused by any OMS that validates it (symbol 1-32 chars, max_order_qty > 0): nothing
is stored."""
TOKEN_PASSED = frozenset({400, 409, 422, 503})
"""Answers that show the token got past the guard and the invalid body was refused after it."""


@dataclass(frozen=True)
class AdminToken:
    token: str | None = None
    missing: str = "the target file names no admin token (oms.admin_token / oms.admin_token_env)"
    """Why there is no token, when there is none."""


@dataclass(frozen=True)
class InstanceView:
    """What the checks learned of an instance that later checks build on."""

    name: str
    url: str
    at: Endpoint
    """How the checks reach it."""
    role: str | None = None
    """From ``GET /role`` when it conformed."""
    calls_itself: str | None = None
    deep_status: int | None = None

    @property
    def active(self) -> bool:
        return self.role == "active" and self.deep_status == 200

    def describe(self) -> str:
        deep = "no deep health" if self.deep_status is None else f"deep {self.deep_status}"
        return f"{self.name}: {self.role or 'role unknown'} ({deep})"


def json_problem(answer: Answer, *statuses: int) -> str | None:
    """Why ``answer`` is not a JSON answer with one of ``statuses``, or ``None``."""
    if answer.status not in statuses:
        wanted = " or ".join(str(status) for status in statuses)
        return f"expected {wanted}, got {answer.seen()}"
    if not answer.is_json:
        return f"expected a JSON body, got {answer.seen()}"
    return None


def _with_seen(problem: str | None, answer: Answer) -> str | None:
    return None if problem is None else f"{problem} ({answer.seen()})"


async def read_instance(http: Http, name: str, url: str, admin: AdminToken, results: Results) -> InstanceView:
    api, at = http.api, http.at(name, url)
    health, deep, role, positions, open_orders = await asyncio.gather(
        http.oms(OmsOp.HEALTH, at, api.health(at)), http.oms(OmsOp.HEALTH_DEEP, at, api.deep_health(at)),
        http.oms(OmsOp.ROLE, at, api.role(at)), http.oms(OmsOp.POSITIONS, at, api.positions(at)),
        http.oms(OmsOp.OPEN_ORDERS, at, api.open_orders(at)))
    results.judge("health", name, None if health.status == 200 else f"expected 200, got {health.seen()}",
                  "200")
    deep_ok = results.judge("health.deep", name, _deep_problem(deep),
                            f"{deep.status} {_fields(deep, 'role', 'ready')}")
    role_ok = results.judge("role", name,
                            json_problem(role, 200) or _with_seen(role_problem(role.body), role),
                            _fields(role, "instance", "role", "epoch"))
    view = InstanceView(name, url, at, role=role.body["role"] if role_ok else None,
                        calls_itself=role.body["instance"] if role_ok else None,
                        deep_status=deep.status if deep_ok else None)
    if view.calls_itself is None:
        results.skipped("role.name", name, "GET /role did not conform")
    else:
        results.judge("role.name", name, None if view.calls_itself == name else
                      f"it calls itself {view.calls_itself!r}; the target file names it {name!r}",
                      f"instance {view.calls_itself!r}")
    shape = json_problem(positions, 200) or _with_seen(positions_problem(positions.body), positions)
    results.judge("positions", name, shape, "" if shape else
                  f"{len(positions.body['positions'])} symbols, {positions.body['fills']} fills")
    listed = json_problem(open_orders, 200) or _with_seen(orders_problem(open_orders.body), open_orders)
    results.judge("orders.open", name, listed,
                  f"{len(open_orders.body)} open orders" if listed is None else "")
    await _refuses_malformed(http, at, results)
    await _guards_admin(http, at, admin, results)
    return view


def _fields(answer: Answer, *keys: str) -> str:
    """A conforming answer, said briefly: the values of ``keys``."""
    body = answer.body if isinstance(answer.body, dict) else {}
    return " ".join(f"{key}={json.dumps(body.get(key))}" for key in keys)


def _deep_problem(answer: Answer) -> str | None:
    if answer.status not in (200, 503):
        return f"expected 200 or 503, got {answer.seen()}"
    if not answer.is_json:
        return f"expected a JSON body, got {answer.seen()}"
    return _with_seen(deep_health_problem(answer.status, answer.body), answer)


async def _refuses_malformed(http: Http, at: Endpoint, results: Results) -> None:
    answer = await http.oms(OmsOp.PLACE, at, http.api.place_raw(at, MALFORMED_ORDER))
    refused = answer.status is not None and 400 <= answer.status < 500
    results.judge("orders.bad_json", at.name, None if refused else f"expected a 4xx, got {answer.seen()}",
                  str(answer.status))


async def _set_invalid_limit(http: Http, at: Endpoint, token: str | None) -> Answer:
    return await http.oms(OmsOp.RISK_LIMITS, at, http.api.set_risk_limit(
        at, INVALID_LIMIT_SYMBOL, INVALID_LIMIT_QTY, token=token))


async def _guards_admin(http: Http, at: Endpoint, admin: AdminToken, results: Results) -> None:
    name = at.name
    anonymous = await _set_invalid_limit(http, at, None)
    results.judge("admin.unauthorized", name,
                  None if anonymous.status == 401 else f"expected 401, got {anonymous.seen()}", "401")
    if admin.token is None:
        results.skipped("admin.token", name, admin.missing)
        return
    answer = await _set_invalid_limit(http, at, admin.token)
    passed = answer.status in TOKEN_PASSED
    results.judge("admin.token", name, None if passed else
                  f"expected the invalid body refused past the guard (400, 409, 422 or 503), got "
                  f"{answer.seen()}", f"{answer.status}: the token passed, the invalid body was refused")
