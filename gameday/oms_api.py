"""The one seam between the harness and an OMS's HTTP API: what is asked, and how it is asked.

Probes, the workload, the operator and ``gameday contract check`` ask an :class:`OmsApi` for each
operation (role, health, positions, open orders, place, cancel, admin actions) and get a
:class:`Reply` in the SUT contract's shape (docs/contracts.md §4): the contract's status codes and
JSON bodies. :class:`ContractApi`, the default, speaks the contract itself. A team whose OMS speaks
another dialect subclasses it and overrides only what differs — a route (:attr:`ContractApi.routes`),
a body, a status code — and names the class in its target file (``oms.adapter``, docs/targets.md).

Requests and replies stay contract-shaped on the harness's side: an adapter translates a contract
request into its API's and its API's answer back into the contract's. Callers judge the replies as
they always did (201 placed, 503 try the next instance, …) and record a failure — never a crash — when
a call raises, whatever the adapter raised.

Which API speaks to a stack's instances is the stack's to say, beside their addresses
(``StackEndpoints.oms_api``: a target file's adapter, else :data:`DEFAULT_API`); the runner hands it to
the probes, the workload's front door and the operator explicitly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

import aiohttp

from gameday.oms_api_routes import CONTRACT_ROUTES, OmsOp, Route, contract_routes

__all__ = ["CONTRACT_ROUTES", "DEFAULT_API", "ContractApi", "Endpoint", "OmsApi", "OmsInstances", "OmsOp",
           "Reply", "Route", "contract_routes"]


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer in the contract's shape: the HTTP status and the body.

    ``raw`` is the body as it came off the wire (``None`` once an adapter rewrote it); when it is not
    JSON, ``problem`` is the parse error and :meth:`json` raises it, as ``aiohttp``'s ``json()`` would.
    """

    status: int
    body: Any = None
    raw: bytes | None = None
    problem: ValueError | None = None

    def json(self) -> Any:
        """The JSON body (``None`` for an empty one); raises ``ValueError`` when it is not JSON."""
        if self.problem is not None:
            raise self.problem
        return self.body

    @property
    def is_json(self) -> bool:
        """A JSON body was given (an empty body is none)."""
        return self.problem is None and (self.raw is None or bool(self.raw.strip()))

    @property
    def text(self) -> str:
        """The body as text: as received, or the rewritten body as JSON."""
        if self.raw is not None:
            return self.raw.decode("utf-8", errors="replace")
        return "" if self.body is None else json.dumps(self.body, default=str)

    def with_body(self, body: Any) -> Reply:
        """The same status with ``body`` in the contract's shape (what an adapter returns)."""
        return Reply(self.status, body)

    def with_status(self, status: int) -> Reply:
        return replace(self, status=status)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One instance (or the deployer) as a call reaches it: its name and base URL, the session, the
    caller's timeout. Built once per instance by the hot path (the workload's front door)."""

    name: str
    url: str
    session: aiohttp.ClientSession
    timeout: aiohttp.ClientTimeout
    follow_redirects: bool = True

    async def request(self, method: str, path: str, *, json: Any = None, data: bytes | None = None,
                      headers: Mapping[str, str] | None = None) -> Reply:
        """One HTTP request below the base URL; transport errors (``aiohttp.ClientError``,
        ``TimeoutError``) are raised, a body that is not JSON is not (see :class:`Reply`)."""
        async with self.session.request(method, f"{self.url}{path}", json=json, data=data,
                                        headers=headers, timeout=self.timeout,
                                        allow_redirects=self.follow_redirects) as response:
            raw = await response.read()
            try:
                body = await response.json(content_type=None)
            except ValueError as error:
                return Reply(response.status, None, raw, error)
            except RecursionError:  # nested beyond reason
                return Reply(response.status, None, raw, ValueError("the JSON body is nested too deep"))
            return Reply(response.status, body, raw)

    async def call(self, route: Route, *, json: Any = None, data: bytes | None = None,
                   headers: Mapping[str, str] | None = None, **params: str) -> Reply:
        """``route`` with its placeholders (``order_id``) filled in from ``params``."""
        return await self.request(route.method, route.path_for(**params), json=json, data=data,
                                  headers=headers)


class OmsApi(Protocol):
    """What the harness asks of an OMS; every reply in the contract's shape (docs/contracts.md §4).

    ``token`` is the admin bearer token (``None``: send none); ``operator`` who acts (``X-Operator``).
    """

    routes: Mapping[OmsOp, Route]

    def describe(self, op: OmsOp, at: Endpoint, **params: str) -> str:
        """Where ``op`` goes (``"GET http://…/positions"``), for messages."""
        ...

    async def role(self, at: Endpoint) -> Reply: ...

    async def health(self, at: Endpoint) -> Reply: ...

    async def deep_health(self, at: Endpoint) -> Reply: ...

    async def positions(self, at: Endpoint) -> Reply: ...

    async def open_orders(self, at: Endpoint) -> Reply: ...

    async def place(self, at: Endpoint, order: Mapping[str, Any]) -> Reply: ...

    async def place_raw(self, at: Endpoint, payload: bytes) -> Reply: ...

    async def cancel(self, at: Endpoint, order_id: str) -> Reply: ...

    async def kill_switch(self, at: Endpoint, *, token: str | None, operator: str | None) -> Reply: ...

    async def flatten(self, at: Endpoint, *, token: str | None, operator: str | None) -> Reply: ...

    async def rearm(self, at: Endpoint, *, token: str | None, operator: str | None) -> Reply: ...

    async def set_risk_limit(self, at: Endpoint, symbol: str, max_order_qty: int, *,
                             token: str | None) -> Reply: ...

    async def deploy(self, at: Endpoint, version: str, *, token: str | None) -> Reply: ...

    async def rollback(self, at: Endpoint, operator: str, *, token: str | None) -> Reply: ...


def _admin_headers(token: str | None, operator: str | None = None) -> dict[str, str] | None:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    if operator is not None:
        headers["X-Operator"] = operator
    return headers or None


class ContractApi:
    """The SUT contract as it is: each operation on its route of :attr:`routes`, bodies as they come.

    Subclass it to adapt another API: set :attr:`routes` (``contract_routes(positions="GET /v2/book")``)
    for renamed routes, override an operation to translate its request or reply (call
    :meth:`send`, then ``reply.with_body(...)`` / ``reply.with_status(...)``). A constructor takes the
    target file's ``oms.adapter.options`` as keyword arguments.
    """

    routes: Mapping[OmsOp, Route] = CONTRACT_ROUTES
    """Each operation's route (a target file's ``oms.adapter.routes`` renames some for one instance)."""

    async def send(self, at: Endpoint, op: OmsOp, *, json: Any = None, data: bytes | None = None,
                   headers: Mapping[str, str] | None = None, **params: str) -> Reply:
        """``op``'s route of :attr:`routes`, called at ``at``."""
        return await at.call(self.routes[op], json=json, data=data, headers=headers, **params)

    def describe(self, op: OmsOp, at: Endpoint, **params: str) -> str:
        """``"GET http://…/positions"``: where ``op`` goes, for messages."""
        route = self.routes[op]
        return f"{route.method} {at.url}{route.path_for(**params)}"

    async def role(self, at: Endpoint) -> Reply:
        return await self.send(at, OmsOp.ROLE)

    async def health(self, at: Endpoint) -> Reply:
        return await self.send(at, OmsOp.HEALTH)

    async def deep_health(self, at: Endpoint) -> Reply:
        return await self.send(at, OmsOp.HEALTH_DEEP)

    async def positions(self, at: Endpoint) -> Reply:
        return await self.send(at, OmsOp.POSITIONS)

    async def open_orders(self, at: Endpoint) -> Reply:
        return await self.send(at, OmsOp.OPEN_ORDERS)

    async def place(self, at: Endpoint, order: Mapping[str, Any]) -> Reply:
        """``order``: ``symbol``, ``side``, ``qty``, ``type``, ``price``, ``tif`` (the contract's body)."""
        return await self.send(at, OmsOp.PLACE, json=order)

    async def place_raw(self, at: Endpoint, payload: bytes) -> Reply:
        """``payload`` sent as it is, labelled JSON, where orders are placed (the contract check's
        malformed body)."""
        return await self.send(at, OmsOp.PLACE, data=payload, headers={"Content-Type": "application/json"})

    async def cancel(self, at: Endpoint, order_id: str) -> Reply:
        return await self.send(at, OmsOp.CANCEL, order_id=order_id)

    async def kill_switch(self, at: Endpoint, *, token: str | None, operator: str | None) -> Reply:
        return await self.send(at, OmsOp.KILL_SWITCH, json={}, headers=_admin_headers(token, operator))

    async def flatten(self, at: Endpoint, *, token: str | None, operator: str | None) -> Reply:
        return await self.send(at, OmsOp.FLATTEN, json={}, headers=_admin_headers(token, operator))

    async def rearm(self, at: Endpoint, *, token: str | None, operator: str | None) -> Reply:
        """An operator re-arms a tripped breaker (optional in the contract: only scenarios that re-arm
        need it)."""
        return await self.send(at, OmsOp.REARM, json={}, headers=_admin_headers(token, operator))

    async def set_risk_limit(self, at: Endpoint, symbol: str, max_order_qty: int, *,
                             token: str | None) -> Reply:
        return await self.send(at, OmsOp.RISK_LIMITS, json={"symbol": symbol, "max_order_qty": max_order_qty},
                               headers=_admin_headers(token))

    async def deploy(self, at: Endpoint, version: str, *, token: str | None) -> Reply:
        return await self.send(at, OmsOp.DEPLOY, json={"version": version}, headers=_admin_headers(token))

    async def rollback(self, at: Endpoint, operator: str, *, token: str | None) -> Reply:
        return await self.send(at, OmsOp.ROLLBACK, json={"operator": operator}, headers=_admin_headers(token))

    def __repr__(self) -> str:
        return type(self).__name__


DEFAULT_API: OmsApi = ContractApi()
"""The contract's own API: what every stack speaks unless its target file names an adapter."""


class OmsInstances(dict[str, str]):
    """Deprecated: instance name → base URL with the API that speaks to them. Set
    ``StackEndpoints.oms_api`` instead; a plugin that still assigns one of these to
    ``StackEndpoints.oms`` has its ``api`` taken as the stack's ``oms_api``."""

    __slots__ = ("api",)

    def __init__(self, urls: Mapping[str, str], api: OmsApi = DEFAULT_API) -> None:
        super().__init__(urls)
        self.api = api
