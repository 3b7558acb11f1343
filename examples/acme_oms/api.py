"""Acme's HTTP API (v2) over the cold-standby OMS's desk: the same trading, another dialect.

Nothing here is the SUT contract's shape (docs/contracts.md §4), on purpose: other routes, an
envelope around every body, camelCase fields, upper-case enums, 202 for an accepted order, 409 for
"not accepting orders", an ``X-Api-Key`` header instead of a bearer token and 403 without it, a 204
for the liveness ping, and one ``/v2/node`` route for both the role and the readiness. The harness
grades it through ``adapter.py`` (an :class:`~gameday.oms_api.ContractApi` subclass) without a line of
this file changing.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from cold_standby_oms.desk import Desk, DrainingError, OrderDoneError, RejectedError, UnknownOrderError
from cold_standby_oms.model import BadRequestError, Order, Status, parse_order_request
from cold_standby_oms.venue_frames import FrameError
from cold_standby_oms.venue_link import NoAnswerError, VenueUnavailableError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STATES = {Status.PENDING_NEW: "PENDING", Status.NEW: "WORKING", Status.PARTIALLY_FILLED: "PARTIAL",
          Status.FILLED: "FILLED", Status.CANCELED: "CANCELLED", Status.REJECTED: "REJECTED"}
KEY_HEADER = "X-Api-Key"


def acme_order(order: Order) -> dict[str, Any]:
    return {"id": order.order_id, "venueRef": order.exchange_order_id, "ticker": order.symbol,
            "direction": order.side.value.upper(), "quantity": order.qty, "filledQuantity": order.cum_qty,
            "state": STATES[order.status], "node": order.instance, "limitPrice": order.price}


def _error(status: int, code: str, message: str = "", **details: Any) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, **details}}, status=status)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.empty_body or error.status < 400:
            raise
        return _error(error.status, error.reason.upper().replace(" ", "_"))
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return _error(500, "INTERNAL")


class AcmeApi:
    """The routes; ``admin_key`` guards the limits and the halt (``None``: every admin call is refused)."""

    def __init__(self, desk: Desk, admin_key: str | None) -> None:
        self._desk = desk
        self._admin_key = admin_key
        self._limits: dict[str, int] = {}
        self.halted_by: str | None = None

    def app(self) -> web.Application:
        app = web.Application(middlewares=[_errors])
        app.router.add_get("/v2/ping", self.ping)
        app.router.add_get("/v2/node", self.node)
        app.router.add_get("/v2/book", self.book)
        app.router.add_get("/v2/orders", self.orders)
        app.router.add_post("/v2/orders", self.place)
        app.router.add_post("/v2/orders/{id}/cancel", self.cancel)
        app.router.add_put("/v2/limits", self.set_limit)
        app.router.add_post("/v2/halt", self.halt)
        return app

    async def ping(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def node(self, request: web.Request) -> web.Response:
        desk = self._desk
        checks = {"venueSession": desk.venue_authenticated, "journalRestored": desk.restored,
                  "accepting": not desk.draining}
        mode = "DRAINING" if desk.draining else "LEADER"
        return web.json_response({"node": {"id": desk.instance, "mode": mode, "ready": all(checks.values()),
                                           "checks": checks}})

    async def book(self, request: web.Request) -> web.Response:
        holdings = [{"ticker": ticker, "net": net} for ticker, net in sorted(self._desk.positions().items())]
        return web.json_response({"holdings": holdings, "executions": self._desk.fill_count})

    async def orders(self, request: web.Request) -> web.Response:
        state = request.query.get("state", "all")
        if state not in ("working", "all"):
            return _error(400, "BAD_REQUEST", f"state: working or all, got {state!r}")
        listed = self._desk.orders(open_only=state == "working")
        return web.json_response({"orders": [acme_order(order) for order in listed], "count": len(listed)})

    async def place(self, request: web.Request) -> web.Response:
        try:
            order_request = parse_order_request(_contract_request(json.loads(await request.read())))
        except ValueError as error:  # not JSON, not UTF-8, or a BadRequestError
            return _error(400, "BAD_REQUEST", str(error))
        if self.halted_by is not None:
            return _error(409, "NOT_ACCEPTING", f"halted by {self.halted_by}")
        limit = self._limits.get(order_request.symbol)
        if limit is not None and order_request.qty > limit:
            return _error(422, "LIMIT", f"quantity {order_request.qty} above the limit {limit}")
        try:
            order = await self._desk.place(order_request)
        except (DrainingError, VenueUnavailableError) as error:
            return _error(409, "NOT_ACCEPTING", str(error))
        except NoAnswerError as error:
            return _error(504, "VENUE_TIMEOUT", str(error))
        except RejectedError as error:
            return _error(422, "REJECTED", error.reason, order=acme_order(error.order))
        except FrameError as error:
            return _error(502, "VENUE_GARBLED", str(error))
        return web.json_response({"order": acme_order(order)}, status=202)

    async def cancel(self, request: web.Request) -> web.Response:
        try:
            order = await self._desk.cancel(request.match_info["id"])
        except UnknownOrderError as error:
            return _error(404, "UNKNOWN_ORDER", str(error))
        except OrderDoneError as error:
            return _error(409, "ORDER_DONE", str(error), order=acme_order(error.order))
        except (DrainingError, VenueUnavailableError) as error:
            return _error(409, "NOT_ACCEPTING", str(error))
        except NoAnswerError as error:
            return _error(504, "VENUE_TIMEOUT", str(error))
        except RejectedError as error:
            return _error(422, "REJECTED", error.reason, order=acme_order(error.order))
        except FrameError as error:
            return _error(502, "VENUE_GARBLED", str(error))
        return web.json_response({"order": acme_order(order)})

    def _authorized(self, request: web.Request) -> bool:
        given = request.headers.get(KEY_HEADER, "")
        return self._admin_key is not None and hmac.compare_digest(given.encode(), self._admin_key.encode())

    async def set_limit(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(403, "FORBIDDEN", f"{KEY_HEADER} missing or wrong")
        try:
            body = json.loads(await request.read())
        except ValueError as error:
            return _error(400, "BAD_REQUEST", str(error))
        ticker = body.get("ticker") if isinstance(body, dict) else None
        maximum = body.get("maxQuantity") if isinstance(body, dict) else None
        if not isinstance(ticker, str) or not 0 < len(ticker) <= 32:
            return _error(400, "BAD_REQUEST", "ticker: 1-32 characters")
        if not isinstance(maximum, int) or isinstance(maximum, bool) or maximum <= 0:
            return _error(400, "BAD_REQUEST", "maxQuantity: a positive integer")
        self._limits[ticker] = maximum
        log.info("limit %s: at most %d per order", ticker, maximum)
        return web.json_response({"limit": {"ticker": ticker, "maxQuantity": maximum}})

    async def halt(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(403, "FORBIDDEN", f"{KEY_HEADER} missing or wrong")
        if self.halted_by is not None:
            return _error(409, "ALREADY_HALTED", f"halted by {self.halted_by}")
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            body = {}
        self.halted_by = str(body.get("by") or "unknown") if isinstance(body, dict) else "unknown"
        log.warning("halted by %s: no new orders", self.halted_by)
        return web.json_response({"halted": True, "by": self.halted_by})


_FIELDS = {"ticker", "direction", "quantity", "kind", "limitPrice", "timeInForce"}


def _contract_request(body: Any) -> dict[str, Any]:
    """An Acme order request in the desk's vocabulary (:func:`parse_order_request` checks the values)."""
    if not isinstance(body, dict):
        raise BadRequestError("the body must be a JSON object")
    if unknown := sorted(set(body) - _FIELDS):
        raise BadRequestError(f"unknown field(s): {', '.join(map(str, unknown))}")

    def lower(key: str, default: str | None = None) -> Any:
        value = body.get(key, default)
        return value.lower() if isinstance(value, str) else value

    return {"symbol": body.get("ticker"), "side": lower("direction"), "qty": body.get("quantity"),
            "type": lower("kind"), "price": body.get("limitPrice"),
            "tif": lower("timeInForce", "DAY")}
