"""The SUT contract's core routes (docs/contracts.md §4) over the desk, as an aiohttp app.

Every answer is JSON, errors included: a bad body is 422 naming what is wrong, an unknown route
404, a wrong method 405. Outcomes of ``POST /orders``: 201 acknowledged, 422 bad body, 503 not
connected to the venue or draining, 502 rejected (by the venue's business rules or its API),
504 the venue did not answer (outcome unknown: the order stays ``pending_new``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .desk import Desk, DrainingError, OrderDoneError, RejectedError, UnknownOrderError
from .model import BadRequestError, Status, parse_order_request
from .venue_frames import FrameError
from .venue_link import NoAnswerError, VenueUnavailableError

log = logging.getLogger(__name__)

ROLE = "active"  # a cold-standby OMS that is up is the active one: there is nobody to defer to
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(desk: Desk) -> web.Application:
    app = web.Application(middlewares=[_json_errors])
    routes = _Routes(desk)
    app.router.add_post("/orders", routes.place)
    app.router.add_get("/orders", routes.list_orders)
    app.router.add_delete("/orders/{order_id}", routes.cancel)
    app.router.add_get("/positions", routes.positions)
    app.router.add_get("/health", routes.health)
    app.router.add_get("/health/deep", routes.deep_health)
    app.router.add_get("/role", routes.role)
    return app


def _error(status: int, error: str, **details: Any) -> web.Response:
    return web.json_response({"error": error, **details}, status=status)


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.empty_body or error.status < 400:
            raise
        return _error(error.status, error.reason.lower())
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return _error(500, "internal error")


class _Routes:
    def __init__(self, desk: Desk) -> None:
        self._desk = desk

    async def place(self, request: web.Request) -> web.Response:
        try:
            order_request = parse_order_request(json.loads(await request.read()))
        except ValueError as error:  # not JSON, not UTF-8, or a BadRequestError
            detail = str(error) if isinstance(error, BadRequestError) else f"the body is not JSON: {error}"
            return _error(422, "bad request", detail=detail)
        try:
            order = await self._desk.place(order_request)
        except DrainingError:
            return _error(503, "draining", role=ROLE)
        except VenueUnavailableError as error:
            return _error(503, "venue not connected", role=ROLE, detail=str(error))
        except NoAnswerError as error:
            return _error(504, "venue did not answer", detail=str(error))
        except RejectedError as error:
            return _error(502, "rejected", reason=error.reason, order=error.order.view())
        except FrameError as error:
            return _error(502, "the venue's answer could not be read", detail=str(error))
        return web.json_response(order.view(), status=201)

    async def cancel(self, request: web.Request) -> web.Response:
        order_id = request.match_info["order_id"]
        try:
            order = await self._desk.cancel(order_id)
        except UnknownOrderError as error:
            return _error(404, "unknown order", order_id=order_id, detail=str(error))
        except OrderDoneError as error:
            return _error(409, "order is done", order=error.order.view())
        except DrainingError:
            return _error(503, "draining", role=ROLE)
        except VenueUnavailableError as error:
            return _error(503, "venue not connected", role=ROLE, detail=str(error))
        except NoAnswerError as error:
            return _error(504, "venue did not answer", detail=str(error))
        except RejectedError as error:
            return _error(502, "cancel rejected", reason=error.reason, order=error.order.view())
        except FrameError as error:
            return _error(502, "the venue's answer could not be read", detail=str(error))
        return web.json_response(order.view())

    async def list_orders(self, request: web.Request) -> web.Response:
        wanted = request.query.get("status")
        if wanted is None:
            orders = self._desk.orders()
        elif wanted == "open":
            orders = self._desk.orders(open_only=True)
        else:
            try:
                orders = self._desk.orders(status=Status(wanted))
            except ValueError:
                choices = "|".join(["open", *Status])
                return _error(422, "bad request", detail=f"status: one of {choices}, got {wanted!r}")
        return web.json_response([order.view() for order in orders])

    async def positions(self, request: web.Request) -> web.Response:
        return web.json_response({"positions": self._desk.positions(), "fills": self._desk.fill_count})

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def deep_health(self, request: web.Request) -> web.Response:
        checks = {
            "exchange_session": self._desk.venue_authenticated,
            "positions_restored": self._desk.restored,
            "accepting_orders": not self._desk.draining,
        }
        ready = all(checks.values())
        body = {"role": ROLE, "ready": ready, "checks": checks}
        return web.json_response(body, status=200 if ready else 503)

    async def role(self, request: web.Request) -> web.Response:
        return web.json_response({"instance": self._desk.instance, "role": ROLE})
