"""The Toxiproxy HTTP API, routed exactly as Toxiproxy's router does.

The API runs in a thread of its own (:mod:`gameday.proxy.apithread`), which owns the registry:
reads answer from it directly, and changes are decided there and reach the data loop as
data-plane operations (:mod:`gameday.proxy.dataplane`), so a loop busy with thousands of proxied
connections does not queue API requests behind its data.

Unknown paths, trailing slashes and wrong methods get Toxiproxy's 404 and 405 answers, and every
answer Toxiproxy's content type: JSON as ``application/json``, errors as Go's ``http.Error`` writes
them (``text/plain; charset=utf-8``, ``X-Content-Type-Options: nosniff``) except populate's,
which are JSON listing the proxies populated before the failure (``null``: none). ``/metrics``
exists only when the server is asked for metrics, as Toxiproxy's ``-proxy-metrics`` and
``-runtime-metrics`` flags register it (for any method).

With a token (``python -m gameday.proxy --token-file FILE``, or ``GAMEDAY_PROXY_TOKEN``), every
request but ``GET /version`` (the readiness check) must carry ``Authorization: Bearer <token>``, or
it is answered 401 before anything else is read. Without one the API is open, as real Toxiproxy's.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gameday.proxy import errors, gojson, limits, metrics
from gameday.proxy.proxy import Proxy
from gameday.proxy.server import PopulateError, ProxyRegistry

logger = logging.getLogger(__name__)

VERSION = "2.12.0"
JSON = "application/json"
VERSION_JSON = "application/json;charset=utf-8"  # Toxiproxy's /version sets its own
TEXT = "text/plain; charset=utf-8"  # Go's http.Error


@dataclass(frozen=True, slots=True)
class ApiRequest:
    method: str
    path: str
    body: bytes
    user_agent: str
    authorization: str = ""  # the Authorization header, as sent


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    text: str = ""
    content_type: str | None = None


def _json(value: Any, status: int = 200) -> Reply:
    return Reply(status, gojson.dumps(value), JSON)


def _error(status: int, message: str) -> Reply:
    """Toxiproxy's error answer: its JSON body written by Go's ``http.Error`` (a text line)."""
    return Reply(status, gojson.dumps({"error": message, "status": status}) + "\n", TEXT)


def too_large() -> Reply:
    """The answer to a request whose body is over :data:`~gameday.proxy.limits.MAX_BODY_BYTES`."""
    error = errors.TooLarge(f"request body too large: the limit is {limits.MAX_BODY_BYTES} bytes")
    return _error(error.status, error.message)


# -- reads ---------------------------------------------------------------------------------------
Read = Callable[[ProxyRegistry, dict[str, str]], Reply]


def _version(registry: ProxyRegistry, args: dict[str, str]) -> Reply:
    return Reply(200, f'{{"version": "{VERSION}"}}\n', VERSION_JSON)  # as Toxiproxy formats it


def _proxy_index(registry: ProxyRegistry, args: dict[str, str]) -> Reply:
    return _json({proxy.name: proxy.to_json() for proxy in registry.all()})


def _proxy_show(registry: ProxyRegistry, args: dict[str, str]) -> Reply:
    return _json(registry.get(args["proxy"]).to_json())


def _toxic_index(registry: ProxyRegistry, args: dict[str, str]) -> Reply:
    return _json([entry.to_json() for entry in registry.get(args["proxy"]).toxics.entries()])


def _toxic_show(registry: ProxyRegistry, args: dict[str, str]) -> Reply:
    return _json(registry.get(args["proxy"]).toxics.get(args["toxic"]).to_json())


def _metrics_read(options: metrics.MetricsOptions) -> Read:
    def read(registry: ProxyRegistry, args: dict[str, str]) -> Reply:
        return Reply(200, metrics.render(options, registry.all()), metrics.CONTENT_TYPE)

    return read


# -- changes -------------------------------------------------------------------------------------
Change = Callable[[ProxyRegistry, bytes, dict[str, str]], Awaitable[Reply]]


async def _proxy_create(registry: ProxyRegistry, body: bytes, args: dict[str, str]) -> Reply:
    return _json((await registry.create_json(body)).to_json(), status=201)


async def _populate(registry: ProxyRegistry, body: bytes, args: dict[str, str]) -> Reply:
    """As Toxiproxy: JSON either way, ``"proxies": null`` when there are none (Go's nil slice)."""
    try:
        proxies = await registry.populate_json(body)
    except PopulateError as exc:
        return _populate_error(exc.status, exc.message, exc.created)
    except errors.ApiError as exc:
        return _populate_error(exc.status, exc.message, [])
    except OSError as exc:
        return _populate_error(500, str(exc), [])
    return _json({"proxies": [proxy.to_json() for proxy in proxies] or None}, status=201)


def _populate_error(status: int, message: str, created: list[Proxy]) -> Reply:
    listed = [proxy.to_json() for proxy in created] or None
    return _json({"error": message, "status": status, "proxies": listed}, status)


async def _proxy_update(registry: ProxyRegistry, body: bytes, args: dict[str, str]) -> Reply:
    return _json((await registry.update_json(args["proxy"], body)).to_json())


async def _proxy_delete(registry: ProxyRegistry, body: bytes, args: dict[str, str]) -> Reply:
    await registry.delete(args["proxy"])
    return Reply(204)


async def _toxic_create(registry: ProxyRegistry, body: bytes, args: dict[str, str]) -> Reply:
    return _json((await registry.get(args["proxy"]).toxics.add_json(body)).to_json())


async def _toxic_update(registry: ProxyRegistry, body: bytes, args: dict[str, str]) -> Reply:
    entry = await registry.get(args["proxy"]).toxics.update_json(args["toxic"], body)
    return _json(entry.to_json())


async def _toxic_delete(registry: ProxyRegistry, body: bytes, args: dict[str, str]) -> Reply:
    await registry.get(args["proxy"]).toxics.remove(args["toxic"])
    return Reply(204)


async def _reset(registry: ProxyRegistry, body: bytes, args: dict[str, str]) -> Reply:
    await registry.reset()
    return Reply(204)


@dataclass(frozen=True, slots=True)
class Route:
    pattern: re.Pattern[str]
    reads: dict[str, Read]
    changes: dict[str, Change]


_P = r"(?P<proxy>[^/]+)"
_T = r"(?P<toxic>[^/]+)"
ROUTES = [
    Route(re.compile(r"/version"), {"GET": _version}, {}),
    Route(re.compile(r"/proxies"), {"GET": _proxy_index}, {"POST": _proxy_create}),
    Route(re.compile(r"/populate"), {}, {"POST": _populate}),
    Route(re.compile(r"/reset"), {}, {"POST": _reset}),
    Route(
        re.compile(rf"/proxies/{_P}"),
        {"GET": _proxy_show},
        {"POST": _proxy_update, "PATCH": _proxy_update, "DELETE": _proxy_delete},
    ),
    Route(re.compile(rf"/proxies/{_P}/toxics"), {"GET": _toxic_index}, {"POST": _toxic_create}),
    Route(
        re.compile(rf"/proxies/{_P}/toxics/{_T}"),
        {"GET": _toxic_show},
        {"POST": _toxic_update, "PATCH": _toxic_update, "DELETE": _toxic_delete},
    ),
]


ANY_METHOD = "*"
UNAUTHORISED = "this server requires its API token: Authorization: Bearer <token>"


class Api:
    """Answers :class:`ApiRequest` s in the API thread, which owns ``registry``."""

    def __init__(self, registry: ProxyRegistry, options: metrics.MetricsOptions | None = None, *,
                 token: str | None = None) -> None:
        if token is not None and not token:
            raise ValueError("an API token is not empty")
        self._registry = registry
        self._token = token
        options = options or metrics.MetricsOptions()
        self._routes = list(ROUTES)
        if options.enabled:
            self._routes.append(Route(re.compile(r"/metrics"), {ANY_METHOD: _metrics_read(options)}, {}))

    async def answer(self, request: ApiRequest) -> Reply:
        if not self._authorised(request):
            return _error(401, UNAUTHORISED)
        if request.user_agent.startswith("Mozilla/"):
            return Reply(403, "User agent not allowed\n", TEXT)
        for route in self._routes:
            match = route.pattern.fullmatch(request.path)
            if match is None:
                continue
            args = match.groupdict()
            read = route.reads.get(request.method) or route.reads.get(ANY_METHOD)
            if read is not None:
                return _guarded_read(read, self._registry, args)
            change = route.changes.get(request.method)
            if change is None:
                return Reply(405)
            return await self._change(change, request.body, args)
        return Reply(404, "404 page not found\n", TEXT)

    def _authorised(self, request: ApiRequest) -> bool:
        if self._token is None or (request.method == "GET" and request.path == "/version"):
            return True
        scheme, _, given = request.authorization.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                                  self._token.encode())

    async def _change(self, handler: Change, body: bytes, args: dict[str, str]) -> Reply:
        try:
            return await handler(self._registry, body, args)
        except errors.ApiError as exc:
            return _error(exc.status, exc.message)
        except OSError as exc:  # bind / resolve failures
            return _error(500, str(exc))
        except Exception:
            logger.exception("API change failed")
            return _error(500, "internal error")


def _guarded_read(handler: Read, registry: ProxyRegistry, args: dict[str, str]) -> Reply:
    try:
        return handler(registry, args)
    except errors.ApiError as exc:
        return _error(exc.status, exc.message)
    except Exception:
        logger.exception("API read failed")
        return _error(500, "internal error")
