"""Process edge shared by the OMS and the failover daemon: config, logging, READY, SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from nats.aio.client import Client as NatsClient
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, ValidationError

from trading_stack.json_log import configure_logging
from trading_stack.metrics_http import metrics_handler

M = TypeVar("M", bound=BaseModel)


def load_config(model: type[M], argv: Sequence[str] | None, prog: str) -> M:
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--config", required=True, type=Path, help="JSON file of the service's config model")
    args = parser.parse_args(argv)
    return model.model_validate_json(Path(args.config).read_text())


def setup_logging(service: str, instance: str) -> None:
    """JSON lines on stderr (:mod:`trading_stack.json_log`), once at the process's start."""
    configure_logging(service, instance)


def announce_ready(port: int) -> None:
    print(f"READY http={port}", flush=True)


async def start_http(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start serving ``app``; returns the runner and the bound port (port 0 = a free one)."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1]
    return runner, int(bound)


def run_service(main: Callable[[asyncio.Event], Awaitable[None]]) -> int:
    """Run ``main(stop)`` until it returns; SIGTERM/SIGINT set ``stop``. Exit code 0 on a clean stop."""

    async def _runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await main(stop)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(sig)

    asyncio.run(_runner())
    return 0


def service_main(model: type[M], argv: Sequence[str] | None, prog: str, name: Callable[[M], str],
                 serve: Callable[[M, asyncio.Event], Awaitable[None]], service: str = "failover") -> int:
    """A daemon's ``main``: its config (invalid: exit 2, one clear line), logging, run until stopped."""
    try:
        config = load_config(model, argv, prog)
    except (OSError, ValidationError) as error:
        print(f"{prog}: invalid configuration: {error}", file=sys.stderr)
        return 2
    setup_logging(service, name(config))
    return run_service(lambda stop: serve(config, stop))


def status_app(status: Callable[[], dict[str, Any]],
               metrics: CollectorRegistry | None = None) -> web.Application:
    """``GET /health`` (the process serves), ``GET /status`` (what the daemon knows) and, with a
    registry, ``GET /metrics``."""

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def status_route(_request: web.Request) -> web.Response:
        return web.json_response(status())

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/status", status_route)
    if metrics is not None:
        app.router.add_get("/metrics", metrics_handler(metrics))
    return app


async def run_daemon(app: web.Application, host: str, port: int, connect: Awaitable[None],
                     nats: Callable[[], NatsClient | None], work: Callable[[], Awaitable[None]],
                     on_ready: Callable[[int], None] = announce_ready) -> None:
    """Serve ``app``, connect to NATS in the background, ``work()``; then drain NATS and stop serving."""
    runner, bound = await start_http(app, host, port)
    connecting = asyncio.ensure_future(connect)
    try:
        on_ready(bound)
        await work()
    finally:
        connecting.cancel()
        await asyncio.gather(connecting, return_exceptions=True)
        client = nats()
        if client is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await client.drain()
        await runner.cleanup()
