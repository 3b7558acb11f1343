"""The §4 OMS HTTP API over aiohttp; handlers only translate to and from the OmsApi protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CollectorRegistry

from trading_stack.admin_models import LaunchRequest, RoleRequest, UnwindRequest
from trading_stack.http_common import Handler, parse_body, token_guard
from trading_stack.json_log import CORR_HEADER, corr_from_header, current_corr
from trading_stack.metrics_http import metrics_handler
from trading_stack.models import NewOrderRequest
from trading_stack.risk import RiskLimitUpdate

UNNAMED_OPERATOR = "unnamed"


@dataclass(frozen=True)
class ApiResult:
    status: int
    body: Any


class OmsApi(Protocol):
    def role_info(self) -> dict[str, Any]: ...

    def deep_health(self) -> ApiResult: ...

    def positions_body(self) -> dict[str, Any]: ...

    def orders_body(self, status: str | None) -> list[dict[str, object]]: ...

    async def place(self, request: NewOrderRequest) -> ApiResult: ...

    async def cancel(self, order_id: str) -> ApiResult: ...

    def promote(self, reason: str) -> ApiResult: ...

    async def kill_switch(self, operator: str) -> ApiResult: ...

    async def rearm(self, operator: str) -> ApiResult: ...

    async def set_risk_limit(self, update: RiskLimitUpdate) -> ApiResult: ...

    async def flatten(self) -> ApiResult: ...

    def launch(self, request: LaunchRequest) -> ApiResult: ...

    async def set_role(self, request: RoleRequest) -> ApiResult: ...

    async def restore_positions(self) -> ApiResult: ...

    async def unwind(self, request: UnwindRequest) -> ApiResult: ...

    def stop(self) -> ApiResult: ...


def _json(result: ApiResult) -> web.Response:
    return web.json_response(result.body, status=result.status)


def correlated(handler: Handler) -> Handler:
    """The request's correlation id (``X-Correlation-Id`` when valid, else a new one) is current while
    it is handled, and answered in the same header."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        corr = corr_from_header(request.headers.get(CORR_HEADER))
        token = current_corr.set(corr)
        try:
            response = await handler(request)
        finally:
            current_corr.reset(token)
        response.headers[CORR_HEADER] = corr
        return response

    return wrapped


def build_app(api: OmsApi, admin_token: str, metrics: CollectorRegistry | None = None) -> web.Application:
    admin = token_guard(admin_token)

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def health_deep(_request: web.Request) -> web.Response:
        return _json(api.deep_health())

    async def role(_request: web.Request) -> web.Response:
        return web.json_response(api.role_info())

    async def positions(_request: web.Request) -> web.Response:
        return web.json_response(api.positions_body())

    async def list_orders(request: web.Request) -> web.Response:
        return web.json_response(api.orders_body(request.query.get("status")))

    async def place(request: web.Request) -> web.Response:
        order = await parse_body(request, NewOrderRequest, "invalid order")
        if isinstance(order, web.Response):
            return order
        return _json(await api.place(order))

    async def cancel(request: web.Request) -> web.Response:
        return _json(await api.cancel(request.match_info["order_id"]))

    async def promote(_request: web.Request) -> web.Response:
        return _json(api.promote("admin"))

    async def kill_switch(request: web.Request) -> web.Response:
        return _json(await api.kill_switch(request.headers.get("X-Operator", UNNAMED_OPERATOR)))

    async def rearm(request: web.Request) -> web.Response:
        return _json(await api.rearm(request.headers.get("X-Operator", UNNAMED_OPERATOR)))

    async def launch(request: web.Request) -> web.Response:
        body = await parse_body(request, LaunchRequest, "invalid launch")
        return body if isinstance(body, web.Response) else _json(api.launch(body))

    async def set_role(request: web.Request) -> web.Response:
        body = await parse_body(request, RoleRequest, "invalid role")
        return body if isinstance(body, web.Response) else _json(await api.set_role(body))

    async def restore_positions(_request: web.Request) -> web.Response:
        return _json(await api.restore_positions())

    async def unwind(request: web.Request) -> web.Response:
        body = await parse_body(request, UnwindRequest, "invalid unwind")
        return body if isinstance(body, web.Response) else _json(await api.unwind(body))

    async def stop(_request: web.Request) -> web.Response:
        return _json(api.stop())

    async def risk_limits(request: web.Request) -> web.Response:
        update = await parse_body(request, RiskLimitUpdate, "invalid risk limit")
        if isinstance(update, web.Response):
            return update
        return _json(await api.set_risk_limit(update))

    async def flatten(_request: web.Request) -> web.Response:
        return _json(await api.flatten())

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/health/deep", health_deep)
    app.router.add_get("/role", role)
    app.router.add_get("/positions", positions)
    app.router.add_get("/orders", list_orders)
    app.router.add_post("/orders", correlated(place))
    app.router.add_delete("/orders/{order_id}", correlated(cancel))
    app.router.add_post("/admin/promote", admin(promote))
    app.router.add_post("/admin/kill-switch", admin(correlated(kill_switch)))
    app.router.add_put("/admin/risk-limits", admin(risk_limits))
    app.router.add_post("/admin/flatten", admin(correlated(flatten)))
    app.router.add_post("/admin/rearm", admin(rearm))
    app.router.add_post("/admin/launch", admin(launch))
    app.router.add_post("/admin/role", admin(set_role))
    app.router.add_post("/admin/restore-positions", admin(restore_positions))
    app.router.add_post("/admin/unwind", admin(unwind))
    app.router.add_post("/admin/stop", admin(stop))
    if metrics is not None:
        app.router.add_get("/metrics", metrics_handler(metrics))
    return app
