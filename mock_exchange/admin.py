"""Venue admin API (contracts §3): the ledger of truth as JSON over HTTP.

Besides the ledger's reads, the API pages through its market-data lines (``GET
/ledger/market-data?since=N``) and stops or starts the venue's matching (``/matching``: a harness
stops it before its final capture, so nothing fills while it reads).

Every error is a JSON body ``{"error": ...}``: unknown route or fault kind 404, wrong method
405, bad query parameters, a body that is not a JSON object or fault parameters out of their
bounds 400, a body over :data:`MAX_BODY_BYTES` 413. Anything unexpected is 500 (logged) and a
defect: no request should reach it. The handler never takes the venue down.

With a token (``VenueConfig.admin_token``), every request but ``GET /health`` must carry
``Authorization: Bearer <token>``, or it is 401 (``WWW-Authenticate: Bearer``) before any route,
known or not, is looked at. Without one the API is open.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from mock_exchange.fault_board import FaultBoard
from mock_exchange.faults import FaultKind, FaultParamsError, parse_fault
from mock_exchange.market_data_log import MarketDataPage
from mock_exchange.model import OrderStatus

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
MAX_ERROR_CHARS = 1_000
OPEN_FILTER = "open"
ORDER_STATUS_FILTERS = frozenset({OPEN_FILTER, *(status.value for status in OrderStatus)})
OPEN_ROUTES = frozenset({("GET", "/health"), ("HEAD", "/health"), ("GET", "/metrics")})
"""What a venue with an admin token answers without it (the readiness check, the read-only metrics)."""
MAX_PAGE_LINES = 100_000
"""The most market-data lines one ``GET /ledger/market-data`` answers with (its default ``limit``)."""
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LedgerSource(Protocol):
    """What the admin API reads (the running venue)."""

    def ledger_snapshot(self, *, market_data: bool = True) -> dict[str, Any]: ...

    def market_data_page(self, since: int, limit: int) -> MarketDataPage: ...

    @property
    def matching_running(self) -> bool: ...

    def set_matching(self, running: bool) -> None: ...

    def order_views(self, status: str | None) -> list[dict[str, Any]]: ...

    def fill_views(self) -> list[dict[str, Any]]: ...

    def market_view(self) -> dict[str, Any]: ...

    @property
    def faults(self) -> FaultBoard: ...


class BadRequestError(Exception):
    """A request the admin API refuses with 400."""


class UnknownFaultKindError(Exception):
    """``/faults/{kind}`` names no fault kind: 404."""


class UnauthorizedError(Exception):
    """No admin token, or not the venue's: 401."""


def create_admin_app(source: LedgerSource, *, token: str | None = None,
                     metrics: CollectorRegistry | None = None) -> web.Application:
    """The admin API of ``source``; with ``token``, every route but ``GET /health`` and ``GET /metrics``
    (served from ``metrics``, when given) requires it."""
    middlewares: list[Middleware] = [_json_errors]
    if token is not None:
        middlewares.append(_bearer_token(token))
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY_BYTES)
    routes = _Routes(source)
    app.router.add_get("/health", routes.health)
    app.router.add_get("/ledger", routes.ledger)
    app.router.add_get("/ledger/orders", routes.orders)
    app.router.add_get("/ledger/fills", routes.fills)
    app.router.add_get("/ledger/market-data", routes.market_data)
    app.router.add_get("/matching", routes.matching)
    app.router.add_post("/matching/stop", routes.stop_matching)
    app.router.add_post("/matching/start", routes.start_matching)
    app.router.add_get("/market", routes.market)
    app.router.add_get("/faults", routes.faults)
    app.router.add_delete("/faults", routes.heal_all)
    app.router.add_put("/faults/{kind}", routes.arm)
    app.router.add_delete("/faults/{kind}", routes.heal)
    if metrics is not None:
        app.router.add_get("/metrics", _metrics_route(metrics))
    return app


def _metrics_route(registry: CollectorRegistry) -> Handler:
    async def metrics(_request: web.Request) -> web.Response:
        try:
            body = generate_latest(registry)
        except Exception:  # never a 500 for a scrape: logged, and an empty exposition
            log.exception("venue metrics exposition failed")
            body = b""
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return metrics


class _Routes:
    def __init__(self, source: LedgerSource) -> None:
        self._source = source

    async def health(self, request: web.Request) -> web.Response:
        _allow_params(request)
        return web.json_response({"status": "ok"})

    async def ledger(self, request: web.Request) -> web.Response:
        _allow_params(request, "market_data")
        market_data = _boolean(request, "market_data", default=True)
        return web.json_response(self._source.ledger_snapshot(market_data=market_data))

    async def market_data(self, request: web.Request) -> web.Response:
        _allow_params(request, "since", "limit")
        since = _count(request, "since", default=0, most=None)
        limit = _count(request, "limit", default=MAX_PAGE_LINES, most=MAX_PAGE_LINES, least=1)
        return web.json_response(self._source.market_data_page(since, limit).as_dict())

    async def matching(self, request: web.Request) -> web.Response:
        _allow_params(request)
        return web.json_response({"running": self._source.matching_running})

    async def stop_matching(self, request: web.Request) -> web.Response:
        return self._set_matching(request, running=False)

    async def start_matching(self, request: web.Request) -> web.Response:
        return self._set_matching(request, running=True)

    def _set_matching(self, request: web.Request, *, running: bool) -> web.Response:
        _allow_params(request)
        self._source.set_matching(running)
        return web.json_response({"running": self._source.matching_running})

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
        params = _json_body(await request.read())
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
        raise UnknownFaultKindError(f"unknown fault kind {name!r}; known: {known}") from None


def _json_body(body: bytes) -> Any:
    """The request body as JSON (strict: no NaN or Infinity, no number beyond a float)."""
    try:
        return json.loads(body, parse_constant=_not_a_number, parse_float=_finite_float)
    except (ValueError, RecursionError) as error:
        reason = "nested too deep" if isinstance(error, RecursionError) else str(error)
        raise BadRequestError(f"the body must be a JSON object of fault parameters ({reason})") from None


def _not_a_number(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"the number {text[:40]} is beyond a float")
    return number


def _boolean(request: web.Request, name: str, *, default: bool) -> bool:
    text = request.query.get(name)
    if text is None:
        return default
    if text.lower() not in _BOOLEANS:
        raise BadRequestError(f"{name} must be true or false")
    return _BOOLEANS[text.lower()]


def _count(request: web.Request, name: str, *, default: int, most: int | None, least: int = 0) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    bound = f"an integer from {least}" + (f" to {most}" if most is not None else "")
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise BadRequestError(f"{name} must be {bound}")
    number = int(text)
    if number < least or (most is not None and number > most):
        raise BadRequestError(f"{name} must be {bound}")
    return number


def _allow_params(request: web.Request, *allowed: str) -> None:
    unknown = sorted(set(request.query) - set(allowed))
    if unknown:
        raise BadRequestError(f"unknown query parameter(s): {', '.join(unknown)}")


def _bearer_token(token: str) -> Middleware:
    expected = _token_bytes(token)

    @web.middleware
    async def bearer_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (request.method, request.path) not in OPEN_ROUTES:
            scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not credentials.strip():
                raise UnauthorizedError("this venue's admin API requires Authorization: Bearer <token>")
            if not hmac.compare_digest(_token_bytes(credentials.strip()), expected):
                raise UnauthorizedError("wrong admin token")
        return await handler(request)

    return bearer_token


def _token_bytes(text: str) -> bytes:
    """A token as bytes for :func:`hmac.compare_digest` (which takes ASCII text only); never raises."""
    return text.encode("utf-8", "backslashreplace")


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except BadRequestError as error:
        return _error(str(error), 400)
    except UnknownFaultKindError as error:
        return _error(str(error), 404)
    except UnauthorizedError as error:
        response = _error(str(error), 401)
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return _error(error.reason, error.status)
    except Exception:
        log.exception("admin API error on %s %.200s", request.method, request.path)
        return _error("internal error", 500)


def _error(text: str, status: int) -> web.Response:
    if len(text) > MAX_ERROR_CHARS:
        text = f"{text[:MAX_ERROR_CHARS]}... ({len(text)} chars)"
    return web.json_response({"error": text}, status=status)
