"""The deployer's HTTP API (docs/deploy.md §4): deploy, rollback, status, health; token-guarded."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trading_stack.deploy.versions import OmsVersion

if TYPE_CHECKING:
    from trading_stack.deploy.service import DeployerService

__all__ = ["DeployBody", "RollbackBody", "build_app"]

_M = TypeVar("_M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class DeployBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: OmsVersion


class RollbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    operator: str = Field(min_length=1, max_length=64)


async def _parse(request: web.Request, model: type[_M]) -> _M | web.Response:
    try:
        return model.model_validate(await request.json())
    except ValidationError as err:
        detail = err.errors(include_url=False, include_context=False)
        return web.json_response({"error": "invalid body", "detail": detail}, status=422)
    except ValueError:
        return web.json_response({"error": "body is not JSON"}, status=422)


def build_app(service: DeployerService) -> web.Application:
    token = f"Bearer {service.config.admin_token}".encode()

    def guarded(handler: Handler) -> Handler:
        async def check(request: web.Request) -> web.StreamResponse:
            if not hmac.compare_digest(request.headers.get("Authorization", "").encode(), token):
                return web.json_response({"error": "unauthorized"}, status=401)
            return await handler(request)

        return check

    async def deploy(request: web.Request) -> web.StreamResponse:
        body = await _parse(request, DeployBody)
        if isinstance(body, web.Response):
            return body
        reason = service.request_deploy(body.version)
        exchange_time = service.market.now(service.clock()).isoformat()
        if reason is not None:
            return web.json_response({"error": reason.value, "exchange_time": exchange_time}, status=409)
        guarded_by_schedule = service.scheduler is not None and service.scheduler.guarded
        return web.json_response({"status": "deploying", "version": body.version.value,
                                  "guarded": guarded_by_schedule, "exchange_time": exchange_time}, status=202)

    async def rollback(request: web.Request) -> web.StreamResponse:
        body = await _parse(request, RollbackBody)
        if isinstance(body, web.Response):
            return body
        service.request_rollback(body.operator)
        return web.json_response({"status": "rollback requested", "operator": body.operator}, status=202)

    async def status(_request: web.Request) -> web.StreamResponse:
        return web.json_response(service.status())

    async def health(_request: web.Request) -> web.StreamResponse:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/deploy", guarded(deploy))
    app.router.add_post("/rollback", guarded(rollback))
    app.router.add_get("/status", guarded(status))
    app.router.add_get("/health", health)
    return app
