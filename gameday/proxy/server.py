"""The registry of proxies behind the API, and the in-process server for tests and the harness.

``async with ToxiproxyServer("127.0.0.1", 0, seed=7) as server:`` serves the API on
``server.port`` (the bound port) until the block exits, then closes every listener and connection.
Its proxies listen on and dial loopback only, unless it is made with ``allow_remote=True``; what
else the API refuses is in :mod:`gameday.proxy.limits`. It serves ``/metrics`` only when made with
``metrics=MetricsOptions(proxy=True)`` (or ``runtime=True``), as Toxiproxy does only with its
``-proxy-metrics`` or ``-runtime-metrics`` flag.

Three threads: the API thread serves HTTP and owns the registry (every change is decided
there); the caller's event loop is the data loop, carrying the proxied bytes of connections
with toxics; the fast lane forwards those of connections without. Changes reach the data loop
through a :class:`~gameday.proxy.dataplane.DataPlane`, so the API never waits behind the data.
"""

from __future__ import annotations

import asyncio
import random
from contextlib import AsyncExitStack
from enum import Enum
from types import TracebackType
from typing import Any

from gameday.proxy import errors, gojson, limits
from gameday.proxy.dataplane import DataPlane
from gameday.proxy.fastlane import FastLane
from gameday.proxy.metrics import MetricsOptions
from gameday.proxy.net import bind_listener
from gameday.proxy.proxy import Proxy
from gameday.proxy.relay import Relay

_PROXY_FIELDS: dict[str, type] = {"name": str, "listen": str, "upstream": str, "enabled": bool}


class PopulateError(errors.ApiError):
    """A populate that failed part way: the response also lists the proxies already created."""

    def __init__(self, cause: errors.ApiError | OSError, created: list[Proxy]) -> None:
        super().__init__(cause.message if isinstance(cause, errors.ApiError) else str(cause))
        self.status = cause.status if isinstance(cause, errors.ApiError) else 500
        self.created = created


def _decode_proxy(value: Any) -> dict[str, Any]:
    try:
        return gojson.decode_struct(value, _PROXY_FIELDS, "toxiproxy.Proxy")
    except gojson.DecodeError as exc:
        raise errors.bad_body(str(exc)) from None


def _parse(body: bytes) -> Any:
    try:
        return gojson.parse(body)
    except gojson.DecodeError as exc:
        raise errors.bad_body(str(exc)) from None


def _check_required(fields: dict[str, Any], where: str = "") -> None:
    for required in ("name", "upstream"):
        if not fields.get(required):
            raise errors.missing_field(f"{required}{where}")


class ProxyRegistry:
    """Every proxy by name, in the API thread. Mutations are serialised; reads never wait."""

    def __init__(
        self, seed: int, plane: DataPlane, lane: FastLane | None = None, *, allow_remote: bool = False
    ) -> None:
        self._addresses = limits.AddressPolicy(allow_remote)
        self._rng = random.Random(seed)
        self._plane = plane
        self._lane = lane
        self._proxies: dict[str, Proxy] = {}
        self._lock = asyncio.Lock()

    def all(self) -> list[Proxy]:
        return [self._proxies[name] for name in sorted(self._proxies)]

    def get(self, name: str) -> Proxy:
        try:
            return self._proxies[name]
        except KeyError:
            raise errors.NotFound(errors.PROXY_NOT_FOUND) from None

    def _new_proxy(self, fields: dict[str, Any]) -> Proxy:
        relay = Relay(random.Random(self._rng.getrandbits(64)), self._lane, self._plane)
        return Proxy(fields["name"], fields.get("listen", ""), fields["upstream"], relay, self._plane)

    def _check_addresses(self, fields: dict[str, Any]) -> None:
        """BadRequest unless this server may listen on and dial the addresses of a new proxy."""
        self._addresses.check_listen(fields.get("listen", ""))
        self._addresses.check_upstream(fields["upstream"])

    async def create_json(self, body: bytes) -> Proxy:
        fields = _decode_proxy(_parse(body))
        _check_required(fields)
        limits.check_name("proxy", fields["name"])
        async with self._lock:
            if fields["name"] in self._proxies:  # before the addresses, as Toxiproxy binds after
                raise errors.Conflict(errors.PROXY_EXISTS)
            self._check_addresses(fields)
            proxy = self._new_proxy(fields)
            if fields.get("enabled", True):
                await proxy.start()
            self._proxies[proxy.name] = proxy
            return proxy

    async def update_json(self, name: str, body: bytes) -> Proxy:
        async with self._lock:
            proxy = self.get(name)
            fields = _decode_proxy(_parse(body))
            if "listen" in fields:
                self._addresses.check_listen(fields["listen"])
            if "upstream" in fields:
                self._addresses.check_upstream(fields["upstream"])
            await proxy.update(
                fields.get("listen", proxy.listen),
                fields.get("upstream", proxy.upstream),
                fields.get("enabled", proxy.enabled),
            )
            return proxy

    async def delete(self, name: str) -> None:
        async with self._lock:
            proxy = self.get(name)
            del self._proxies[name]
            await proxy.stop()

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        async with self._lock:
            for proxy in self.all():
                await proxy.start()
                await proxy.toxics.reset()

    async def populate_json(self, body: bytes) -> list[Proxy]:
        """``POST /populate``: every proxy checked first, then each created, kept if the same (its
        listen address compared once resolved) or replaced. ``null`` is no proxies, as in Go."""
        value = _parse(body)
        if value is None:
            value = []
        if not isinstance(value, list) or isinstance(value, gojson.JsonObject):
            kind = gojson.json_type_name(value)
            raise errors.bad_body(f"json: cannot unmarshal {kind} into Go value of type []toxiproxy.Proxy")
        wanted = [_decode_proxy(item) for item in value]
        for index, fields in enumerate(wanted, start=1):
            _check_required(fields, f" at proxy {index}")
        named: set[str] = set()
        for index, fields in enumerate(wanted, start=1):
            try:
                limits.check_name("proxy", fields["name"])
                self._check_addresses(fields)
            except errors.BadRequest as exc:
                raise errors.BadRequest(f"{exc.message} at proxy {index}") from None
            if fields["name"] in named:  # Toxiproxy would replace the proxy it just created
                raise errors.BadRequest(f"duplicate name {limits.shown(fields['name'])} at proxy {index}")
            named.add(fields["name"])
        async with self._lock:
            return await self._populate(wanted)

    async def _populate(self, wanted: list[dict[str, Any]]) -> list[Proxy]:
        result: list[Proxy] = []
        for fields in wanted:
            existing = self._proxies.get(fields["name"])
            if existing is not None:
                try:
                    differs = await existing.differs(fields.get("listen", ""), fields["upstream"])
                except OSError as exc:
                    raise PopulateError(exc, result) from None
                if not differs:
                    result.append(existing)
                    continue
                await existing.stop()
                del self._proxies[existing.name]
            proxy = self._new_proxy(fields)
            if fields.get("enabled", True):
                try:
                    await proxy.start()
                except OSError as exc:
                    raise PopulateError(exc, result) from None
            self._proxies[proxy.name] = proxy
            result.append(proxy)
        return result

    def close(self) -> None:
        """Stop every proxy's listener and connections: in the data loop, once the API has stopped."""
        for proxy in self.all():
            proxy.relay.stop()


class _State(Enum):
    UNOPENED = "unopened"
    OPENED = "opened"
    CLOSED = "closed"


class ToxiproxyServer:
    """The Toxiproxy-compatible server in this event loop. Single use: open once, close once."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 8474, seed: int = 0, *, allow_remote: bool = False,
        metrics: MetricsOptions | None = None, token: str | None = None,
    ) -> None:
        self.host = host
        self._token = token  # the API's bearer token (gameday.proxy.api); None: an open API
        self._seed = seed
        self._allow_remote = allow_remote
        self._metrics = metrics or MetricsOptions()
        self._lane = FastLane()
        self._registry: ProxyRegistry | None = None
        self._requested_port = port
        self._port: int | None = None
        self._state = _State.UNOPENED
        self._stack = AsyncExitStack()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("server is not open")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def registry(self) -> ProxyRegistry:
        """The proxies; the API thread's to change while the server is open."""
        if self._registry is None:
            raise RuntimeError("server is not open")
        return self._registry

    async def open(self) -> None:
        from gameday.proxy.api import Api  # the API modules import this one
        from gameday.proxy.apithread import ApiThread

        if self._state is not _State.UNOPENED:
            raise RuntimeError(f"server is {self._state.value}")
        self._state = _State.OPENED
        async with AsyncExitStack() as stack:
            self._lane.start()
            stack.push_async_callback(self._lane.stop)
            registry = self._registry = ProxyRegistry(
                self._seed, DataPlane(asyncio.get_running_loop()), self._lane, allow_remote=self._allow_remote
            )
            stack.callback(registry.close)
            sock = await bind_listener(f"{self.host}:{self._requested_port}")
            self._port = sock.getsockname()[1]
            api_thread = ApiThread(Api(registry, self._metrics, token=self._token), sock)
            stack.push_async_callback(api_thread.stop)
            await api_thread.start()
            self._stack = stack.pop_all()

    async def close(self) -> None:
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        await self._stack.aclose()

    async def __aenter__(self) -> ToxiproxyServer:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
