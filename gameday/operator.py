"""Plays a scenario's operator actions against the active OMS and records each in the history."""

from __future__ import annotations

from collections.abc import Sequence
from functools import singledispatchmethod
from typing import Any

import aiohttp

from gameday.clock import sleep_until
from gameday.history import History, OpKind, OpType
from gameday.probes import sample_roles
from gameday.scenario.actions import Action, RestingOrdersAction, RiskLimitAction
from gameday.workload import reference_price

PROCESS = "operator"


class ActionFailedError(Exception):
    """The OMS refused or did not answer an operator action; ``done`` is what it did before that."""

    def __init__(self, message: str, done: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.done = done or {}


class Operator:
    """``play(actions, started_ns)``: each action at its offset, on the instance active at that time."""

    def __init__(self, session: aiohttp.ClientSession, oms_urls: dict[str, str], admin_token: str,
                 history: History, timeout_s: float = 3.0) -> None:
        self._session = session
        self._urls = dict(oms_urls)
        self._headers = {"Authorization": f"Bearer {admin_token}"}
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
            instance = await self._active()
            detail = await self._apply(action, instance)
        except ActionFailedError as error:
            self._history.append(OpKind.ACTION, OpType.FAIL, PROCESS, f, {"error": str(error), **error.done})
            return
        self._history.append(OpKind.ACTION, OpType.OK, PROCESS, f, {"instance": instance, **detail})

    async def _active(self) -> str:
        roles = await sample_roles(self._session, self._urls)
        for name, sample in roles.items():
            if sample["role"] == "active":
                return name
        raise ActionFailedError(f"no active OMS instance: {roles}")

    async def _call(self, method: str, url: str, body: dict[str, Any], *, admin: bool) -> dict[str, Any]:
        try:
            async with self._session.request(method, url, json=body, timeout=self._timeout,
                                             headers=self._headers if admin else None) as response:
                answer = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise ActionFailedError(f"{method} {url}: {type(error).__name__}: {error}") from error
        if status >= 300 or not isinstance(answer, dict):
            raise ActionFailedError(f"{method} {url} answered {status}: {answer}")
        return answer

    @singledispatchmethod
    async def _apply(self, action: Action, instance: str) -> dict[str, Any]:
        raise NotImplementedError(type(action).__name__)

    @_apply.register
    async def _(self, action: RiskLimitAction, instance: str) -> dict[str, Any]:
        body = {"symbol": action.symbol, "max_order_qty": action.max_order_qty}
        await self._call("PUT", f"{self._urls[instance]}/admin/risk-limits", body, admin=True)
        return body

    @_apply.register
    async def _(self, action: RestingOrdersAction, instance: str) -> dict[str, Any]:
        price = round(reference_price(action.symbol) * (1 - action.distance_pct / 100), 2)
        body = {"symbol": action.symbol, "side": "buy", "qty": action.qty, "type": "limit",
                "price": price, "tif": "gtc"}
        orders = []
        for _ in range(action.count):
            try:
                placed = await self._call("POST", f"{self._urls[instance]}/orders", body, admin=False)
            except ActionFailedError as error:
                raise ActionFailedError(str(error), {"instance": instance, "orders": orders}) from error
            orders.append({"order_id": placed.get("order_id"),
                           "exchange_order_id": placed.get("exchange_order_id"),
                           "symbol": action.symbol, "side": "buy", "qty": action.qty, "price": price})
        return {"orders": orders}
