"""The front door (docs/deploy.md §3): the reverse proxy clients send orders to, in front of the OMS
instances. ``python -m trading_stack.front_door --config front_door.json``.

Every request is routed with the one routing table current when it arrives (see
:mod:`trading_stack.front_door_routes`); ``PUT /admin/upstreams`` swaps the table in one
assignment. ``POST /admin/hold`` makes new requests wait (bounded) for the next swap while the
requests already in flight finish on their upstream — the hold answers once they have. Route
changes go out on ``frontdoor.routes`` and, once a second, what each instance answered on
``frontdoor.outcomes`` (rejected = a 5xx, or a 4xx other than 422; ``answer_ms``: how long each new
order took to be answered by the instance, the hold not counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
from aiohttp import web
from nats.aio.client import Client as NatsClient
from pydantic import BaseModel, ConfigDict, Field

from trading_stack.clock import MonotonicNs, monotonic_ns
from trading_stack.events import connect_nats
from trading_stack.front_door_routes import (
    FrontDoorConfig,
    Route,
    Routes,
    UnknownInstance,
    UpstreamsRequest,
    owner_of,
)
from trading_stack.http_common import parse_body, token_guard
from trading_stack.json_log import CORR_HEADER
from trading_stack.metrics_http import metrics_handler, up_registry
from trading_stack.runtime import announce_ready, load_config, run_service, setup_logging, start_http

log = logging.getLogger(__name__)

ROUTES_SUBJECT = "frontdoor.routes"
OUTCOMES_SUBJECT = "frontdoor.outcomes"
MAX_ANSWER_SAMPLES = 5_000
"""order answer times kept per instance per outcome report (the rest of a burst is not timed)"""
UPSTREAM_HEADER = "X-Upstream"


class HoldRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    hold_s: float = Field(gt=0, le=60)


def rejected(status: int) -> bool:
    return status >= 500 or (400 <= status < 500 and status != 422)


class FrontDoor:
    def __init__(self, config: FrontDoorConfig, clock: MonotonicNs = monotonic_ns) -> None:
        self.config = config
        self._clock = clock
        self._urls = {name: str(url).rstrip("/") for name, url in config.instances.items()}
        self.routes = Routes.build(1, config.upstreams, self._urls)
        self._swapped = asyncio.Event()
        self._held_until: float | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._outcomes: dict[str, Counter[str]] = {}
        self._answer_ms: dict[str, list[float]] = {}
        self._http: aiohttp.ClientSession | None = None
        self._nc: NatsClient | None = None
        self._publishing: set[asyncio.Task[None]] = set()

    # -- routing -----------------------------------------------------------------------------
    @property
    def held(self) -> bool:
        return self._held_until is not None and asyncio.get_running_loop().time() < self._held_until

    async def table(self) -> Routes:
        """The table to route a new request with: the current one, or the next one after a hold."""
        if self._held_until is not None:
            remaining = self._held_until - asyncio.get_running_loop().time()
            if remaining > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await self._swapped.wait()
        return self.routes

    def swap(self, upstreams: Sequence[Any]) -> Routes:
        routes = Routes.build(self.routes.generation + 1, upstreams, self._urls)
        self.routes = routes  # the one assignment that moves all new traffic
        self._held_until = None
        self._swapped.set()
        self._swapped = asyncio.Event()
        self._publish_routes()
        return routes

    async def hold(self, hold_s: float) -> int:
        """Hold new requests for up to ``hold_s``; returns once the in-flight ones finished."""
        loop = asyncio.get_running_loop()
        self._held_until = loop.time() + hold_s
        self._publish_routes()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(hold_s):
                await self._idle.wait()
        return self._in_flight

    async def forward(self, route: Route, method: str, path: str, body: bytes | None,
                      corr: str | None = None) -> web.Response:
        """``corr``: the client's ``X-Correlation-Id``, passed on (the OMS judges it)."""
        assert self._http is not None
        self._in_flight += 1
        self._idle.clear()
        sent_ns = self._clock()
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            if corr is not None:
                headers[CORR_HEADER] = corr
            url = f"{route.url}{path}"
            async with self._http.request(method, url, data=body, headers=headers) as upstream:
                status, payload = upstream.status, await upstream.read()
        except (aiohttp.ClientError, TimeoutError) as err:
            status = 502
            payload = json.dumps({"error": "upstream unreachable", "instance": route.instance,
                                  "detail": f"{type(err).__name__}: {err}"}).encode()
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()
        if method in ("POST", "DELETE"):
            outcome = "rejected" if rejected(status) else "accepted" if status < 300 else "other"
            self._outcomes.setdefault(route.instance, Counter())[outcome] += 1
        if method == "POST":
            answers = self._answer_ms.setdefault(route.instance, [])
            if len(answers) < MAX_ANSWER_SAMPLES:
                answers.append(round((self._clock() - sent_ns) / 1e6, 2))
        return web.Response(status=status, body=payload, content_type="application/json",
                            headers={UPSTREAM_HEADER: route.instance})

    # -- NATS ----------------------------------------------------------------------------------
    def _publish(self, subject: str, body: dict[str, Any]) -> None:
        nc = self._nc
        if nc is None or not nc.is_connected:
            return
        task = asyncio.get_running_loop().create_task(nc.publish(subject, json.dumps(body).encode()))
        self._publishing.add(task)
        task.add_done_callback(self._published)

    def _published(self, task: asyncio.Task[None]) -> None:
        self._publishing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("publish failed: %s", task.exception())

    def _publish_routes(self) -> None:
        routes = self.routes
        self._publish(ROUTES_SUBJECT, {"generation": routes.generation, "upstreams": routes.describe(),
                                       "held": self._held_until is not None, "t_ns": self._clock()})

    async def _report_outcomes(self) -> None:
        while True:
            await asyncio.sleep(self.config.outcome_interval_s)
            outcomes, self._outcomes = self._outcomes, {}
            answers, self._answer_ms = self._answer_ms, {}
            for instance, counts in sorted(outcomes.items()):
                self._publish(OUTCOMES_SUBJECT, {
                    "instance": instance, "accepted": counts["accepted"], "rejected": counts["rejected"],
                    "answer_ms": answers.get(instance, []), "t_ns": self._clock()})

    # -- lifecycle -----------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event, on_ready: Callable[[int], None] = announce_ready) -> None:
        timeout = aiohttp.ClientTimeout(total=self.config.request_timeout_s)
        async with contextlib.AsyncExitStack() as stack:
            self._http = await stack.enter_async_context(aiohttp.ClientSession(timeout=timeout))
            runner, port = await start_http(build_app(self), self.config.host, self.config.http_port)
            stack.push_async_callback(runner.cleanup)
            tasks = [asyncio.create_task(self._report_outcomes())]
            if self.config.nats_url is not None:
                tasks.append(asyncio.create_task(self._connect(self.config.nats_url)))
            try:
                on_ready(port)
                await stop.wait()
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                if self._nc is not None:
                    with contextlib.suppress(Exception):
                        await self._nc.close()

    async def _connect(self, url: str) -> None:
        self._nc = await connect_nats(url, name="front-door")
        self._publish_routes()




def build_app(door: FrontDoor) -> web.Application:
    admin = token_guard(door.config.admin_token)

    async def place(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        return await door.forward((await door.table()).pick(), "POST", "/orders", body,
                                  request.headers.get(CORR_HEADER))

    async def cancel(request: web.Request) -> web.StreamResponse:
        routes = await door.table()
        owner = owner_of(request.match_info["order_id"], routes.instances)
        route = routes.find(owner) if owner else None
        return await door.forward(route or routes.primary(), "DELETE", request.path_qs, None,
                                  request.headers.get(CORR_HEADER))

    async def read(request: web.Request) -> web.StreamResponse:
        return await door.forward(door.routes.primary(), "GET", request.path_qs, None)

    async def health(_request: web.Request) -> web.StreamResponse:
        return web.json_response({"status": "ok"})

    async def get_upstreams(_request: web.Request) -> web.StreamResponse:
        routes = door.routes
        return web.json_response({"generation": routes.generation, "upstreams": routes.describe(),
                                  "held": door.held})

    async def put_upstreams(request: web.Request) -> web.StreamResponse:
        parsed = await parse_body(request, UpstreamsRequest)
        if isinstance(parsed, web.Response):
            return parsed
        try:
            routes = door.swap(parsed.upstreams)
        except UnknownInstance as err:
            return web.json_response({"error": str(err)}, status=422)
        return web.json_response({"generation": routes.generation, "upstreams": routes.describe()})

    async def hold(request: web.Request) -> web.StreamResponse:
        parsed = await parse_body(request, HoldRequest)
        if isinstance(parsed, web.Response):
            return parsed
        still_in_flight = await door.hold(parsed.hold_s)
        return web.json_response({"held": True, "hold_s": parsed.hold_s, "in_flight": still_in_flight})

    app = web.Application()
    app.router.add_post("/orders", place)
    app.router.add_delete("/orders/{order_id}", cancel)
    app.router.add_get("/orders", read)
    app.router.add_get("/positions", read)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics_handler(up_registry("front_door")))
    app.router.add_get("/admin/upstreams", admin(get_upstreams))
    app.router.add_put("/admin/upstreams", admin(put_upstreams))
    app.router.add_post("/admin/hold", admin(hold))
    return app


def main(argv: Sequence[str] | None = None) -> int:
    config = load_config(FrontDoorConfig, argv, "python -m trading_stack.front_door")
    setup_logging("deployer", "front-door")

    async def _main(stop: asyncio.Event) -> None:
        await FrontDoor(config).run(stop)

    return run_service(_main)


if __name__ == "__main__":
    sys.exit(main())
