"""Venue admin API (contracts §3): the ledger of truth as JSON over HTTP.

Every error is a JSON body ``{"error": ...}``: unknown route 404, wrong method 405, bad
query parameters 400, anything unexpected 500 (logged); the handler never takes the venue down.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web

from mock_exchange.fault_board import FaultBoard
from mock_exchange.faults import FaultKind, FaultParamsError, parse_fault
from mock_exchange.model import OrderStatus

log = logging.getLogger(__name__)

OPEN_FILTER = "open"
ORDER_STATUS_FILTERS = frozenset({OPEN_FILTER, *(status.value for status in OrderStatus)})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LedgerSource(Protocol):
    """What the admin API reads (the running venue)."""

    def ledger_snapshot(self) -> dict[str, Any]: ...

    def order_views(self, status: str | None) -> list[dict[str, Any]]: ...

    def fill_views(self) -> list[dict[str, Any]]: ...

    def market_view(self) -> dict[str, Any]: ...

    @property
    def faults(self) -> FaultBoard: ...


class BadRequestError(Exception):
    """A request the admin API refuses with 400."""


def create_admin_app(source: LedgerSource) -> web.Application:
    app = web.Application(middlewares=[_json_errors])
    routes = _Routes(source)
    app.router.add_get("/health", routes.health)
    app.router.add_get("/ledger", routes.ledger)
    app.router.add_get("/ledger/orders", routes.orders)
    app.router.add_get("/ledger/fills", routes.fills)
    app.router.add_get("/market", routes.market)
    app.router.add_get("/faults", routes.faults)
    app.router.add_delete("/faults", routes.heal_all)
    app.router.add_put("/faults/{kind}", routes.arm)
    app.router.add_delete("/faults/{kind}", routes.heal)
    return app


class _Routes:
    def __init__(self, source: LedgerSource) -> None:
        self._source = source

    async def health(self, request: web.Request) -> web.Response:
        _allow_params(request)
        return web.json_response({"status": "ok"})

    async def ledger(self, request: web.Request) -> web.Response:
        _allow_params(request)
        return web.json_response(self._source.ledger_snapshot())

    async def orders(self, request: web.Request) -> web.Response:
        _allow_params(request, "status")
        status = request.query.get("status")
        if status is not None and status not in ORDER_STATUS_FILTERS:
            allowed = ", ".join(sorted(ORDER_STATUS_FILTERS))
            raise BadRequestError(f"status must be one of: {allowed}")
        return web.json_response(self._source.order_views(status))

    async def fills(self, request: web.Request) -> web.Response:
        _allow_params(request)
        return web.json_response(self._source.fill_views())

    async def market(self, request: web.Request) -> web.Response:
        _allow_params(request)
        return web.json_response(self._source.market_view())

    async def faults(self, request: web.Request) -> web.Response:
        _allow_params(request)
        active = [fault.model_dump(mode="json") for fault in self._source.faults.active()]
        return web.json_response({"faults": active})

    async def arm(self, request: web.Request) -> web.Response:
        _allow_params(request)
        kind = _fault_kind(request)
        try:
            params = await request.json()
        except ValueError:
            raise BadRequestError("the body must be a JSON object of fault parameters") from None
        try:
            stored = self._source.faults.arm(parse_fault(kind, params))
        except FaultParamsError as error:
            raise BadRequestError(f"{kind.value}: {error}") from None
        return web.json_response(stored.model_dump(mode="json"))

    async def heal(self, request: web.Request) -> web.Response:
        _allow_params(request)
        self._source.faults.heal(_fault_kind(request))
        return web.Response(status=204)

    async def heal_all(self, request: web.Request) -> web.Response:
        _allow_params(request)
        self._source.faults.heal_all()
        return web.Response(status=204)


def _fault_kind(request: web.Request) -> FaultKind:
    name = request.match_info["kind"]
    try:
        return FaultKind(name)
    except ValueError:
        known = ", ".join(kind.value for kind in FaultKind)
        raise web.HTTPNotFound(reason=f"unknown fault kind {name!r}; known: {known}") from None


def _allow_params(request: web.Request, *allowed: str) -> None:
    unknown = sorted(set(request.query) - set(allowed))
    if unknown:
        raise BadRequestError(f"unknown query parameter(s): {', '.join(unknown)}")


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except BadRequestError as error:
        return web.json_response({"error": str(error)}, status=400)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return web.json_response({"error": error.reason}, status=error.status)
    except Exception:
        log.exception("admin API error on %s %s", request.method, request.path)
        return web.json_response({"error": "internal error"}, status=500)
