"""The HTTP side of the API: aiohttp in a thread with its own event loop.

The proxy loop may be busy with thousands of connections; serving HTTP from another thread
keeps the API answering (see :class:`gameday.proxy.api.Api` for what runs where).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import socket
import threading

from aiohttp import web

from gameday.proxy.api import TEXT, Api, ApiRequest, Reply, too_large
from gameday.proxy.limits import MAX_BODY_BYTES

logger = logging.getLogger(__name__)


class ApiThread:
    """Serves ``api`` on the bound, listening ``sock`` from ``start`` until ``stop``."""

    def __init__(self, api: Api, sock: socket.socket) -> None:
        self._api = api
        self._sock = sock
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._request_ids = itertools.count(1)

    async def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="gameday-proxy-api", daemon=True)
        self._thread.start()
        await asyncio.wrap_future(self._ready)

    async def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        await asyncio.to_thread(self._thread.join)
        self._thread = None

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_route("*", "/{path:.*}", self._dispatch)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        try:
            await runner.setup()
            await web.SockSite(runner, self._sock).start()
            self._ready.set_result(None)
            await self._stopping.wait()
        finally:
            await runner.cleanup()
            self._sock.close()

    async def _dispatch(self, request: web.Request) -> web.Response:
        reply = await self._answer(request)
        logger.debug("%s %s -> %d", request.method, request.path, reply.status)
        headers = {"X-Toxiproxy-Request-Id": f"gameday-{next(self._request_ids):08x}"}
        if reply.content_type is None:
            return web.Response(status=reply.status, headers=headers)
        headers["Content-Type"] = reply.content_type  # exactly Toxiproxy's: aiohttp would add a charset
        if reply.content_type == TEXT:  # what Go's http.Error adds
            headers["X-Content-Type-Options"] = "nosniff"
        if reply.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="toxiproxy"'
        return web.Response(status=reply.status, body=reply.text.encode(), headers=headers)

    async def _answer(self, request: web.Request) -> Reply:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return too_large()
        return await self._api.answer(
            ApiRequest(request.method, request.path, body, request.headers.get("User-Agent", ""),
                       request.headers.get("Authorization", ""))
        )
