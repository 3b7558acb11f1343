"""Plays a scenario's operator actions against the stack and records each in the history.

Each action, and each safety step a crossed stop line runs (:meth:`Operator.safety`), is recorded
as ``kind: action``, ``invoke`` then ``ok`` or ``fail``. OMS actions go to the instance
active at that time; deploy and rollback to the deployer; a position through the front door when
the stack has one; a restart through the stack's service control. Every HTTP call goes through the
stack's :class:`~gameday.oms_api.OmsApi` (a target file's adapter, else the contract's).
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Coroutine, Sequence
from dataclasses import dataclass, field
from functools import singledispatchmethod
from typing import Any, Protocol, runtime_checkable

import aiohttp

from gameday.clock import sleep_until
from gameday.history import History, OpKind, OpType
from gameday.oms_api import DEFAULT_API, Endpoint, OmsApi, OmsOp, Reply
from gameday.probes import sample_roles
from gameday.scenario.actions import (
    Action,
    DeployAction,
    KillSwitchAction,
    PositionAction,
    RearmAction,
    RestartAction,
    RestingOrdersAction,
    RiskLimitAction,
    RollbackAction,
)
from gameday.scenario.stop_spec import SafetyStep
from gameday.stack.protocol import Stack
from gameday.workload import reference_price

__all__ = ["PROCESS", "ActionFailedError", "Operator", "OperatorEndpoints", "ServiceControl",
           "operator_endpoints"]

PROCESS = "operator"
SAFETY_OPERATOR = "gameday-stop"
UNTIL_FLAT_S = 10.0
"""How long, after safety steps that flatten, the operator waits for the book to be flat (a market
order can fill in pieces), flattening again whenever nothing is left open and something is held."""
UNTIL_FLAT_POLL_S = 0.2
"""``X-Operator`` of the safety steps a crossed stop line runs."""


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
    """Where operator actions go: the OMS instances, and the deployer and front door if the stack has
    them; ``api`` speaks to all of them (the stack's ``endpoints.oms_api``; default: the contract's)."""

    oms: dict[str, str]
    deployer: str | None = None
    front_door: str | None = None
    services: ServiceControl | None = field(default=None, compare=False)
    api: OmsApi = field(default=DEFAULT_API, compare=False)


def operator_endpoints(stack: Stack) -> OperatorEndpoints:
    """A stack's endpoints as the operator uses them (the live map: a restarted instance moves)."""
    endpoints = stack.endpoints
    services = stack if isinstance(stack, ServiceControl) else None
    return OperatorEndpoints(endpoints.oms, endpoints.deployer, endpoints.front_door, services,
                             endpoints.oms_api)


class Operator:
    """``play(actions, started_ns)``: each action at its offset from ``started_ns``."""

    def __init__(self, session: aiohttp.ClientSession, endpoints: OperatorEndpoints | dict[str, str],
                 admin_token: str, history: History, timeout_s: float = 3.0) -> None:
        self._session = session
        if not isinstance(endpoints, OperatorEndpoints):
            endpoints = OperatorEndpoints(endpoints)
        self._endpoints = endpoints
        self._api = endpoints.api
        self._token = admin_token
        self._history = history
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def play(self, actions: Sequence[Action], started_ns: int) -> None:
        for action in sorted(actions, key=lambda a: a.at.ns):
            await sleep_until(started_ns + action.at.ns)
            await self._perform(action)

    async def safety(self, steps: Sequence[SafetyStep], reason: str) -> None:
        """A scenario's safety steps once a stop line is crossed, in order, each on the instance active
        then and recorded as an action (``safety: true``); a step that fails is recorded ``fail`` and
        the next one still runs. Once a step that flattens was carried out, ``until-flat`` follows."""
        flattened = False
        for step in steps:
            invoked = {"safety": True, "reason": reason}
            done = await self._recorded(step.value, invoked, self._safety_step(step))
            flattened |= done and step in (SafetyStep.FLATTEN, SafetyStep.KILL_SWITCH)
        if flattened:
            await self._recorded("until-flat", {"safety": True, "reason": reason, "within_s": UNTIL_FLAT_S},
                                 self._until_flat())

    async def _until_flat(self) -> dict[str, Any]:
        """Polls the active instance until it holds nothing and has nothing open; flattens again when
        nothing is open but something is still held; fails after :data:`UNTIL_FLAT_S`."""
        started = time.monotonic()
        flattens = 0
        while True:
            instance = await self._active()
            at = self._oms(instance)
            _, open_orders = await self._request(self._api.describe(OmsOp.OPEN_ORDERS, at),
                                                 self._api.open_orders(at))
            _, positions = await self._request(self._api.describe(OmsOp.POSITIONS, at),
                                               self._api.positions(at))
            by_symbol = positions.get("positions") if isinstance(positions, dict) else None
            if not isinstance(by_symbol, dict):
                raise ActionFailedError(f"the positions of {instance} are not readable: {positions!r:.200}")
            held = {symbol: qty for symbol, qty in by_symbol.items() if qty}
            still_open = len(open_orders) if isinstance(open_orders, list) else None
            state = {"instance": instance, "held": held, "open": still_open, "flattens": flattens,
                     "waited_s": round(time.monotonic() - started, 3)}
            if not held and still_open == 0:
                return state
            if time.monotonic() - started >= UNTIL_FLAT_S:
                raise ActionFailedError(f"not flat {UNTIL_FLAT_S:g} s after the safety steps", state)
            if still_open == 0:
                await self._call(self._api.describe(OmsOp.FLATTEN, at),
                                 self._api.flatten(at, token=self._token, operator=SAFETY_OPERATOR))
                flattens += 1
            await asyncio.sleep(UNTIL_FLAT_POLL_S)

    async def _perform(self, action: Action) -> None:
        await self._recorded(action.action.value, action.model_dump(mode="json"), self._apply(action))

    async def _recorded(self, f: str, invoked: dict[str, Any],
                        outcome: Coroutine[Any, Any, dict[str, Any]]) -> bool:
        """Whether the action was carried out (``ok``)."""
        self._history.append(OpKind.ACTION, OpType.INVOKE, PROCESS, f, invoked)
        try:
            detail = await outcome
        except ActionFailedError as error:
            self._history.append(OpKind.ACTION, OpType.FAIL, PROCESS, f, {"error": str(error), **error.done})
            return False
        self._history.append(OpKind.ACTION, OpType.OK, PROCESS, f, detail)
        return True

    async def _active(self) -> str:
        roles = await sample_roles(self._session, self._endpoints.oms, api=self._api)
        for name, sample in roles.items():
            if sample["role"] == "active":
                return name
        raise ActionFailedError(f"no active OMS instance: {roles}")

    def _at(self, name: str, url: str) -> Endpoint:
        return Endpoint(name, url, self._session, self._timeout)

    def _oms(self, instance: str) -> Endpoint:
        url = self._endpoints.oms.get(instance)
        if url is None:
            known = ", ".join(sorted(self._endpoints.oms))
            raise ActionFailedError(f"no OMS instance {instance!r} in this stack ({known})")
        return self._at(instance, url)

    def _needs(self, url: str | None, what: str) -> Endpoint:
        if url is None:
            raise ActionFailedError(f"this stack has no {what}")
        return self._at(what, url)

    async def _request(self, where: str, reply: Awaitable[Reply]) -> tuple[int, Any]:
        """The status and JSON body of a call the API makes; a call that raised (a transport error, a
        body that is not JSON, an adapter's failure) fails the action, naming ``where`` it went."""
        try:
            answer = await reply
            return answer.status, answer.json()
        except Exception as error:
            raise ActionFailedError(f"{where}: {type(error).__name__}: {error}") from error

    async def _call(self, where: str, reply: Awaitable[Reply]) -> dict[str, Any]:
        status, answer = await self._request(where, reply)
        if status >= 300 or not isinstance(answer, dict):
            raise ActionFailedError(f"{where} answered {status}: {answer}", {"status": status})
        return answer

    async def _safety_step(self, step: SafetyStep) -> dict[str, Any]:
        instance = await self._active()
        at = self._oms(instance)
        if step is SafetyStep.CANCEL_ALL:
            return {"instance": instance, **await self._cancel_all(at)}
        if step is SafetyStep.FLATTEN:
            where = self._api.describe(OmsOp.FLATTEN, at)
            reply = self._api.flatten(at, token=self._token, operator=SAFETY_OPERATOR)
        else:
            where = self._api.describe(OmsOp.KILL_SWITCH, at)
            reply = self._api.kill_switch(at, token=self._token, operator=SAFETY_OPERATOR)
        return {"instance": instance, "answer": await self._call(where, reply)}

    async def _cancel_all(self, at: Endpoint) -> dict[str, Any]:
        """Every open order the instance lists (``GET /orders?status=open``), one cancel each."""
        where = self._api.describe(OmsOp.OPEN_ORDERS, at)
        status, listed = await self._request(where, self._api.open_orders(at))
        if status != 200 or not isinstance(listed, list):
            raise ActionFailedError(f"{where} answered {status}: {listed}", {"instance": at.name})
        ids = [str(order["order_id"]) for order in listed if isinstance(order, dict) and "order_id" in order]
        refused: dict[str, int] = {}
        for order_id in ids:
            answered, _ = await self._request(self._api.describe(OmsOp.CANCEL, at, order_id=order_id),
                                              self._api.cancel(at, order_id))
            if answered >= 300:
                refused[order_id] = answered
        done = {"open": len(ids), "cancelled": len(ids) - len(refused), "refused": refused}
        if refused:
            raise ActionFailedError(f"{len(refused)} of {len(ids)} open orders not cancelled", done)
        return done

    @singledispatchmethod
    async def _apply(self, action: Action) -> dict[str, Any]:
        raise NotImplementedError(type(action).__name__)

    @_apply.register
    async def _(self, action: RiskLimitAction) -> dict[str, Any]:
        instance = await self._active()
        at = self._oms(instance)
        await self._call(self._api.describe(OmsOp.RISK_LIMITS, at),
                         self._api.set_risk_limit(at, action.symbol, action.max_order_qty, token=self._token))
        return {"instance": instance, "symbol": action.symbol, "max_order_qty": action.max_order_qty}

    @_apply.register
    async def _(self, action: RestingOrdersAction) -> dict[str, Any]:
        instance = await self._active()
        price = round(reference_price(action.symbol) * (1 - action.distance_pct / 100), 2)
        body = {"symbol": action.symbol, "side": "buy", "qty": action.qty, "type": "limit",
                "price": price, "tif": "gtc"}
        orders: list[dict[str, Any]] = []
        for _ in range(action.count):
            try:
                at = self._oms(instance)
                placed = await self._call(self._api.describe(OmsOp.PLACE, at), self._api.place(at, body))
            except ActionFailedError as error:
                raise ActionFailedError(str(error), {"instance": instance, "orders": orders}) from error
            orders.append({"order_id": placed.get("order_id"),
                           "exchange_order_id": placed.get("exchange_order_id"),
                           "symbol": action.symbol, "side": "buy", "qty": action.qty, "price": price})
        return {"instance": instance, "orders": orders}

    @_apply.register
    async def _(self, action: DeployAction) -> dict[str, Any]:
        at = self._needs(self._endpoints.deployer, "deployer")
        answer = await self._call(self._api.describe(OmsOp.DEPLOY, at),
                                  self._api.deploy(at, action.version, token=self._token))
        return {"version": action.version, "answer": answer}

    @_apply.register
    async def _(self, action: RollbackAction) -> dict[str, Any]:
        at = self._needs(self._endpoints.deployer, "deployer")
        answer = await self._call(self._api.describe(OmsOp.ROLLBACK, at),
                                  self._api.rollback(at, action.operator, token=self._token))
        return {"operator": action.operator, "answer": answer}

    @_apply.register
    async def _(self, action: KillSwitchAction) -> dict[str, Any]:
        at = self._oms(action.target)
        answer = await self._call(self._api.describe(OmsOp.KILL_SWITCH, at),
                                  self._api.kill_switch(at, token=self._token, operator=action.operator))
        return {"instance": action.target, "operator": action.operator, "trip": answer.get("trip")}

    @_apply.register
    async def _(self, action: RearmAction) -> dict[str, Any]:
        at = self._oms(action.target)
        answer = await self._call(self._api.describe(OmsOp.REARM, at),
                                  self._api.rearm(at, token=self._token, operator=action.operator))
        return {"instance": action.target, "operator": action.operator, "answer": answer}

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
        front_door = self._endpoints.front_door
        at = self._at("front-door", front_door) if front_door else self._oms(await self._active())
        body = {"symbol": action.symbol, "side": action.side.value, "qty": action.qty, "type": "market",
                "price": None, "tif": "day"}
        order = await self._call(self._api.describe(OmsOp.PLACE, at), self._api.place(at, body))
        return {"instance": order.get("instance"), "order": order}
