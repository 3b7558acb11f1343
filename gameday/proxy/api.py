"""The Toxiproxy HTTP API (aiohttp), routed exactly as Toxiproxy's router does.

One catch-all aiohttp handler dispatches on exact paths, so unknown paths, trailing slashes and
wrong methods get Toxiproxy's 404 and 405 answers rather than aiohttp's, and every response
carries ``X-Toxiproxy-Request-Id``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gameday.proxy import errors, gojson, metrics
from gameday.proxy.server import PopulateError, ProxyRegistry

VERSION = "2.12.0"

Handler = Callable[[web.Request, ProxyRegistry, dict[str, str]], Awaitable[web.Response]]


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(text=gojson.dumps(value), status=status, content_type="application/json")


def _no_content() -> web.Response:
    return web.Response(status=204)


def _error(status: int, message: str, extra: dict[str, Any] | None = None) -> web.Response:
    body = gojson.dumps({"error": message, "status": status, **(extra or {})}) + "\n"
    return web.Response(text=body, status=status, content_type="text/plain")


async def _version(request: web.Request, registry: ProxyRegistry, args: dict[str, str]) -> web.Response:
    return _json({"version": VERSION})


async def _proxy_index(request: web.Request, registry: ProxyRegistry, args: dict[str, str]) -> web.Response:
    return _json({proxy.name: proxy.to_json() for proxy in registry.all()})


async def _proxy_create(request: web.Request, registry: ProxyRegistry, args: dict[str, str]) -> web.Response:
    proxy = await registry.create_json(await request.read())
    return _json(proxy.to_json(), status=201)


async def _populate(request: web.Request, registry: ProxyRegistry, args: dict[str, str]) -> web.Response:
    try:
        proxies = await registry.populate_json(await request.read())
    except PopulateError as exc:
        return _error(exc.status, exc.message, {"proxies": [p.to_json() for p in exc.created]})
    return _json({"proxies": [proxy.to_json() for proxy in proxies]}, status=201)


async def _proxy_show(request: web.Request, registry: ProxyRegistry, args: dict[str, str]) -> web.Response:
    return _json(registry.get(args["proxy"]).to_json())


async def _proxy_update(request: web.Request, registry: ProxyRegistry, args: dict[str, str]) -> web.Response:
    proxy = await registry.update_json(args["proxy"], await request.read())
    return _json(proxy.to_json())


async def _proxy_delete(request: web.Request, registry: ProxyRegistry, args: dict[str, str]) -> web.Response:
    await registry.delete(args["proxy"])
    return _no_content()


async def _toxic_index(request: web.Request, registry: ProxyRegistry, args: dict[str, str]) -> web.Response:
    toxics = registry.get(args["proxy"]).toxics
    return _json([entry.to_json() for entry in toxics.entries()])


async def _toxic_create(request: web.Request, registry: ProxyRegistry, args: dict[str, str]) -> web.Response:
    toxics = registry.get(args["proxy"]).toxics
    entry = await toxics.add_json(await request.read())
    return _json(entry.to_json())


async def _toxic_show(request: web.Request, registry: ProxyRegistry, args: dict[str, str]) -> web.Response:
    return _json(registry.get(args["proxy"]).toxics.get(args["toxic"]).to_json())


async def _toxic_update(request: web.Request, registry: ProxyRegistry, args: dict[str, str]) -> web.Response:
    toxics = registry.get(args["proxy"]).toxics
    entry = await toxics.update_json(args["toxic"], await request.read())
    return _json(entry.to_json())


async def _toxic_delete(request: web.Request, registry: ProxyRegistry, args: dict[str, str]) -> web.Response:
    await registry.get(args["proxy"]).toxics.remove(args["toxic"])
    return _no_content()


async def _reset(request: web.Request, registry: ProxyRegistry, args: dict[str, str]) -> web.Response:
    await registry.reset()
    return _no_content()


async def _metrics(request: web.Request, registry: ProxyRegistry, args: dict[str, str]) -> web.Response:
    return web.Response(text=metrics.render(registry.all()), content_type="text/plain")


ROUTES: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
    (re.compile(r"/version"), {"GET": _version}),
    (re.compile(r"/proxies"), {"GET": _proxy_index, "POST": _proxy_create}),
    (re.compile(r"/populate"), {"POST": _populate}),
    (re.compile(r"/reset"), {"POST": _reset}),
    (re.compile(r"/metrics"), {"GET": _metrics}),
    (
        re.compile(r"/proxies/(?P<proxy>[^/]+)"),
        {"GET": _proxy_show, "POST": _proxy_update, "PATCH": _proxy_update, "DELETE": _proxy_delete},
    ),
    (re.compile(r"/proxies/(?P<proxy>[^/]+)/toxics"), {"GET": _toxic_index, "POST": _toxic_create}),
    (
        re.compile(r"/proxies/(?P<proxy>[^/]+)/toxics/(?P<toxic>[^/]+)"),
        {"GET": _toxic_show, "POST": _toxic_update, "PATCH": _toxic_update, "DELETE": _toxic_delete},
    ),
]


async def _route(request: web.Request, registry: ProxyRegistry) -> web.Response:
    if request.headers.get("User-Agent", "").startswith("Mozilla/"):
        return web.Response(text="User agent not allowed\n", status=403, content_type="text/plain")
    for pattern, methods in ROUTES:
        match = pattern.fullmatch(request.path)
        if match is None:
            continue
        handler = methods.get(request.method)
        if handler is None:
            return web.Response(status=405)
        try:
            return await handler(request, registry, match.groupdict())
        except errors.ApiError as exc:
            return _error(exc.status, exc.message)
        except OSError as exc:  # bind / resolve failures
            return _error(500, str(exc))
    return web.Response(text="404 page not found\n", status=404, content_type="text/plain")


def build_app(registry: ProxyRegistry) -> web.Application:
    """The aiohttp application serving the API for ``registry``."""
    request_ids = itertools.count(1)

    async def dispatch(request: web.Request) -> web.Response:
        response = await _route(request, registry)
        response.headers["X-Toxiproxy-Request-Id"] = f"gameday-{next(request_ids):08x}"
        return response

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", dispatch)
    return app
