"""An aiohttp application served on a free loopback port for the length of a test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web


@asynccontextmanager
async def serving_runner(app: web.Application) -> AsyncIterator[tuple[web.AppRunner, int]]:
    """The app's runner and its port on 127.0.0.1; the runner is cleaned up on the way out."""
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield runner, int(runner.addresses[0][1])
    finally:
        await runner.cleanup()


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """The app's base URL (``http://127.0.0.1:<port>``) while it is served."""
    async with serving_runner(app) as (_, port):
        yield f"http://127.0.0.1:{port}"
