"""Plays a scenario's operator actions against the stack and records each in the history.

Each action is recorded as ``kind: action``, ``invoke`` then ``ok`` or ``fail``. OMS actions go to
the instance active at that time; deploy and rollback to the deployer; a position through the
front door when the stack has one; a restart through the stack's service control.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import singledispatchmethod
from typing import Any, Protocol, runtime_checkable

import aiohttp

from gameday.clock import sleep_until
from gameday.history import History, OpKind, OpType
from gameday.probes import sample_roles
from gameday.scenario.actions import (
    Action,
    DeployAction,
    KillSwitchAction,
    PositionAction,
    RestartAction,
    RestingOrdersAction,
    RiskLimitAction,
    RollbackAction,
)
from gameday.stack.protocol import Stack
from gameday.workload import reference_price

__all__ = ["PROCESS", "ActionFailedError", "Operator", "OperatorEndpoints", "ServiceControl",
           "operator_endpoints"]

PROCESS = "operator"


class ActionFailedError(Exception):
    """The stack refused or did not answer an operator action; ``done`` is what it did before that."""

    def __init__(self, message: str, done: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.done = done or {}


@runtime_checkable
class ServiceControl(Protocol):
    """What a stack offers for restarts: signal, wait for the exit, start the service again."""

    async def restart(self, service: str, sig: signal.Signals, grace_s: float) -> dict[str, Any]: ...


@dataclass(frozen=True)
class OperatorEndpoints:
    """Where operator actions go: the OMS instances, and the deployer and front door if the stack has them."""

    oms: dict[str, str]
    deployer: str | None = None
    front_door: str | None = None
    services: ServiceControl | None = field(default=None, compare=False)


def operator_endpoints(stack: Stack) -> OperatorEndpoints:
    """A stack's endpoints as the operator uses them (the live map: a restarted instance moves)."""
    endpoints = stack.endpoints
    services = stack if isinstance(stack, ServiceControl) else None
    return OperatorEndpoints(endpoints.oms, endpoints.deployer, endpoints.front_door, services)


class Operator:
    """``play(actions, started_ns)``: each action at its offset from ``started_ns``."""

    def __init__(self, session: aiohttp.ClientSession, endpoints: OperatorEndpoints | dict[str, str],
                 admin_token: str, history: History, timeout_s: float = 3.0) -> None:
        self._session = session
        if not isinstance(endpoints, OperatorEndpoints):
            endpoints = OperatorEndpoints(endpoints)
        self._endpoints = endpoints
        self._token = admin_token
        self._history = history
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def play(self, actions: Sequence[Action], started_ns: int) -> None:
        for action in sorted(actions, key=lambda a: a.at.ns):
            await sleep_until(started_ns + action.at.ns)
            await self._perform(action)

    async def _perform(self, action: Action) -> None:
        f = action.action.value
        self._history.append(OpKind.ACTION, OpType.INVOKE, PROCESS, f, action.model_dump(mode="json"))
        try:
            detail = await self._apply(action)
        except ActionFailedError as error:
            self._history.append(OpKind.ACTION, OpType.FAIL, PROCESS, f, {"error": str(error), **error.done})
            return
        self._history.append(OpKind.ACTION, OpType.OK, PROCESS, f, detail)

    async def _active(self) -> str:
        roles = await sample_roles(self._session, self._endpoints.oms)
        for name, sample in roles.items():
            if sample["role"] == "active":
                return name
        raise ActionFailedError(f"no active OMS instance: {roles}")

    def _oms_url(self, instance: str) -> str:
        url = self._endpoints.oms.get(instance)
        if url is None:
            known = ", ".join(sorted(self._endpoints.oms))
            raise ActionFailedError(f"no OMS instance {instance!r} in this stack ({known})")
        return url

    @staticmethod
    def _needs(url: str | None, what: str) -> str:
        if url is None:
            raise ActionFailedError(f"this stack has no {what}")
        return url

    async def _call(self, method: str, url: str, body: dict[str, Any], *, admin: bool,
                    headers: dict[str, str] | None = None) -> dict[str, Any]:
        sent = {**({"Authorization": f"Bearer {self._token}"} if admin else {}), **(headers or {})}
        try:
            async with self._session.request(method, url, json=body, timeout=self._timeout,
                                             headers=sent or None) as response:
                answer = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise ActionFailedError(f"{method} {url}: {type(error).__name__}: {error}") from error
        if status >= 300 or not isinstance(answer, dict):
            raise ActionFailedError(f"{method} {url} answered {status}: {answer}", {"status": status})
        return answer

    @singledispatchmethod
    async def _apply(self, action: Action) -> dict[str, Any]:
        raise NotImplementedError(type(action).__name__)

    @_apply.register
    async def _(self, action: RiskLimitAction) -> dict[str, Any]:
        instance = await self._active()
        body = {"symbol": action.symbol, "max_order_qty": action.max_order_qty}
        await self._call("PUT", f"{self._oms_url(instance)}/admin/risk-limits", body, admin=True)
        return {"instance": instance, **body}

    @_apply.register
    async def _(self, action: RestingOrdersAction) -> dict[str, Any]:
        instance = await self._active()
        price = round(reference_price(action.symbol) * (1 - action.distance_pct / 100), 2)
        body = {"symbol": action.symbol, "side": "buy", "qty": action.qty, "type": "limit",
                "price": price, "tif": "gtc"}
        orders: list[dict[str, Any]] = []
        for _ in range(action.count):
            try:
                placed = await self._call("POST", f"{self._oms_url(instance)}/orders", body, admin=False)
            except ActionFailedError as error:
                raise ActionFailedError(str(error), {"instance": instance, "orders": orders}) from error
            orders.append({"order_id": placed.get("order_id"),
                           "exchange_order_id": placed.get("exchange_order_id"),
                           "symbol": action.symbol, "side": "buy", "qty": action.qty, "price": price})
        return {"instance": instance, "orders": orders}

    @_apply.register
    async def _(self, action: DeployAction) -> dict[str, Any]:
        url = self._needs(self._endpoints.deployer, "deployer")
        answer = await self._call("POST", f"{url}/deploy", {"version": action.version}, admin=True)
        return {"version": action.version, "answer": answer}

    @_apply.register
    async def _(self, action: RollbackAction) -> dict[str, Any]:
        url = self._needs(self._endpoints.deployer, "deployer")
        answer = await self._call("POST", f"{url}/rollback", {"operator": action.operator}, admin=True)
        return {"operator": action.operator, "answer": answer}

    @_apply.register
    async def _(self, action: KillSwitchAction) -> dict[str, Any]:
        answer = await self._call("POST", f"{self._oms_url(action.target)}/admin/kill-switch", {}, admin=True,
                                  headers={"X-Operator": action.operator})
        return {"instance": action.target, "operator": action.operator, "trip": answer.get("trip")}

    @_apply.register
    async def _(self, action: RestartAction) -> dict[str, Any]:
        services = self._endpoints.services
        if services is None:
            raise ActionFailedError("this stack cannot restart services")
        try:
            outcome = await services.restart(action.target, signal.Signals[action.signal.value],
                                             action.grace.seconds)
        except Exception as error:  # a failed start-up is the action's outcome, not the run's crash
            raise ActionFailedError(f"restart of {action.target} failed: {type(error).__name__}: {error}"
                                    ) from error
        return {"target": action.target, "signal": action.signal.value, **outcome}

    @_apply.register
    async def _(self, action: PositionAction) -> dict[str, Any]:
        door = self._endpoints.front_door or self._oms_url(await self._active())
        body = {"symbol": action.symbol, "side": action.side.value, "qty": action.qty, "type": "market",
                "price": None, "tif": "day"}
        order = await self._call("POST", f"{door}/orders", body, admin=False)
        return {"instance": order.get("instance"), "order": order}
