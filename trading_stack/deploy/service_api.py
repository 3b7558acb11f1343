"""The deployer's HTTP API (docs/deploy.md §4): deploy, rollback, status, health; token-guarded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from trading_stack.deploy.versions import OmsVersion
from trading_stack.http_common import parse_body, token_guard
from trading_stack.metrics_http import metrics_handler, up_registry

if TYPE_CHECKING:
    from trading_stack.deploy.service import DeployerService

__all__ = ["DeployBody", "RollbackBody", "build_app"]



class DeployBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: OmsVersion


class RollbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    operator: str = Field(min_length=1, max_length=64)


def build_app(service: DeployerService) -> web.Application:
    guarded = token_guard(service.config.admin_token)

    async def deploy(request: web.Request) -> web.StreamResponse:
        body = await parse_body(request, DeployBody)
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
        body = await parse_body(request, RollbackBody)
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
    app.router.add_get("/metrics", metrics_handler(up_registry("deployer")))
    return app
