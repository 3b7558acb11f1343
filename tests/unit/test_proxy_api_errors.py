"""Every malformed API request gets its exact 4xx/5xx body, and never harms an existing proxy.

The state checked after each bad request: the proxy is still listed unchanged, with its toxic,
and still carries traffic to its upstream.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from gameday.proxy.testing import ApiClient, echo_server, served_api

BAD_JSON = "bad request body: invalid character 'x' looking for beginning of value"


@dataclass
class Reply:
    status: int
    text: str


class Api:
    def __init__(self, client: ApiClient) -> None:
        self.client = client

    async def call(self, method: str, path: str, raw: bytes | None = None) -> Reply:
        async with self.client.session.request(method, self.client.url + path, data=raw) as response:
            return Reply(response.status, await response.text())

    async def state(self) -> Any:
        return json.loads((await self.call("GET", "/proxies")).text)

    async def echo_through(self, name: str = "p") -> bytes:
        listen = (await self.state())[name]["listen"]
        host, port = listen.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(b"still here")
            return await asyncio.wait_for(reader.readexactly(10), 5)
        finally:
            writer.close()


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async with served_api(seed=2) as client, echo_server() as echo:
        api = Api(client)
        proxy = {"name": "p", "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{echo.port}"}
        assert (await api.call("POST", "/proxies", json.dumps(proxy).encode())).status == 201
        assert (await api.call("POST", "/proxies/p/toxics", b'{"type": "noop"}')).status == 200
        yield api


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def error_body(message: str, status: int, path: str = "") -> str:
    """Toxiproxy's error body: a line of text, but populate's is JSON naming what it populated."""
    if path == "/populate":
        return json.dumps({"error": message, "status": status, "proxies": None}, separators=(",", ":"))
    return json.dumps({"error": message, "status": status}, separators=(",", ":")) + "\n"


def cannot_unmarshal(kind: str, field: str, go_type: str) -> str:
    return f"bad request body: json: cannot unmarshal {kind} into Go struct field {field} of type {go_type}"


def not_a(kind: str, go_type: str) -> str:
    return f"bad request body: json: cannot unmarshal {kind} into Go value of type {go_type}"


BAD_REQUESTS = [
    ("POST", "/proxies", b"x", 400, BAD_JSON),
    ("POST", "/proxies", b"{", 400, "bad request body: unexpected EOF"),
    ("POST", "/proxies", b"[]", 400, not_a("array", "toxiproxy.Proxy")),
    ("POST", "/proxies", b'{"name": "p", "upstream": "127.0.0.1:1"}', 409, "proxy already exists"),
    ("POST", "/proxies/p", b"x", 400, BAD_JSON),
    (
        "PATCH",
        "/proxies/p",
        b'{"enabled": "yes"}',
        400,
        cannot_unmarshal("string", "toxiproxy.Proxy.enabled", "bool"),
    ),
    (
        "POST",
        "/proxies/p",
        b'{"listen": 5}',
        400,
        cannot_unmarshal("number", "toxiproxy.Proxy.listen", "string"),
    ),
    ("POST", "/proxies/nope", b"{}", 404, "proxy not found"),
    ("DELETE", "/proxies/nope", None, 404, "proxy not found"),
    ("POST", "/proxies/p/toxics", b"x", 400, BAD_JSON),
    (
        "POST",
        "/proxies/p/toxics",
        b'{"type": 5}',
        400,
        cannot_unmarshal("number", "toxics.ToxicWrapper.type", "string"),
    ),
    (
        "POST",
        "/proxies/p/toxics",
        b'{"type": "latency", "toxicity": "high"}',
        400,
        cannot_unmarshal("string", "toxics.ToxicWrapper.toxicity", "float32"),
    ),
    (
        "POST",
        "/proxies/p/toxics",
        b'{"type": "latency", "attributes": {"latency": "100"}}',
        400,
        cannot_unmarshal("string", "LatencyToxic.attributes.latency", "int64"),
    ),
    (
        "POST",
        "/proxies/p/toxics",
        b'{"type": "latency", "attributes": [1]}',
        400,
        not_a("array", "LatencyToxic.attributes"),
    ),
    (
        "POST",
        "/proxies/p/toxics",
        b'{"type": "bandwidth", "attributes": {"rate": -9223372036854775809}}',
        400,
        cannot_unmarshal("number -9223372036854775809", "BandwidthToxic.attributes.rate", "int64"),
    ),
    (
        "POST",
        "/proxies/p/toxics",
        b'{"type": "slicer", "attributes": {"average_size": 0.5}}',
        400,
        cannot_unmarshal("number 0.5", "SlicerToxic.attributes.average_size", "int64"),
    ),
    ("POST", "/proxies/p/toxics", b'{"type": "noop"}', 409, "toxic already exists"),
    (
        "POST",
        "/proxies/p/toxics",
        b'{"type": "noop", "stream": "sideways"}',
        400,
        "stream was invalid, can be either upstream or downstream",
    ),
    ("POST", "/proxies/p/toxics/noop_downstream", b"x", 400, BAD_JSON),
    (
        "PATCH",
        "/proxies/p/toxics/noop_downstream",
        b'{"toxicity": "x"}',
        400,
        cannot_unmarshal("string", "toxics.ToxicWrapper.toxicity", "float32"),
    ),
    ("POST", "/proxies/p/toxics/nope", b"{}", 404, "toxic not found"),
    ("GET", "/proxies/p/toxics/nope", None, 404, "toxic not found"),
    ("DELETE", "/proxies/p/toxics/nope", None, 404, "toxic not found"),
    ("GET", "/proxies/nope/toxics", None, 404, "proxy not found"),
    ("GET", "/proxies/nope/toxics/x", None, 404, "proxy not found"),
    ("POST", "/proxies/nope/toxics/x", b"{}", 404, "proxy not found"),
    ("DELETE", "/proxies/nope/toxics/x", None, 404, "proxy not found"),
    ("POST", "/populate", b"x", 400, BAD_JSON),
    ("POST", "/populate", b"[1]", 400, not_a("number", "toxiproxy.Proxy")),
    (
        "POST",
        "/populate",
        b'[{"name": 1}]',
        400,
        cannot_unmarshal("number", "toxiproxy.Proxy.name", "string"),
    ),
    (
        "POST",
        "/populate",
        b'[{"name": "q", "upstream": "127.0.0.1:1"}, {"name": "r"}]',
        400,
        "missing required field: upstream at proxy 2",
    ),
]


@pytest.mark.parametrize(("method", "path", "raw", "status", "message"), BAD_REQUESTS)
async def test_bad_request_gets_exact_error_and_changes_nothing(
    api: Api, method: str, path: str, raw: bytes | None, status: int, message: str
) -> None:
    before = await api.state()
    reply = await api.call(method, path, raw)
    assert (reply.status, reply.text) == (status, error_body(message, status, path))
    assert await api.state() == before
    assert await api.echo_through() == b"still here"


async def test_update_to_a_taken_address_is_500_and_keeps_the_old_listener(api: Api, taken_port: int) -> None:
    before = await api.state()
    reply = await api.call("POST", "/proxies/p", json.dumps({"listen": f"127.0.0.1:{taken_port}"}).encode())
    message = f"listen tcp 127.0.0.1:{taken_port}: bind: Address already in use"
    assert (reply.status, reply.text) == (500, error_body(message, 500))
    assert await api.state() == before
    assert await api.echo_through() == b"still here"


async def test_update_to_an_address_without_port_is_400_and_changes_nothing(api: Api) -> None:
    before = await api.state()
    reply = await api.call("POST", "/proxies/p", b'{"listen": "nonsense"}')
    message = "listen address 'nonsense': missing port in address"
    assert (reply.status, reply.text) == (400, error_body(message, 400))
    assert await api.state() == before
    assert await api.echo_through() == b"still here"


async def test_create_on_a_taken_address_is_500_with_the_bind_error(api: Api, taken_port: int) -> None:
    body = {"name": "q", "listen": f"127.0.0.1:{taken_port}", "upstream": "127.0.0.1:1"}
    reply = await api.call("POST", "/proxies", json.dumps(body).encode())
    message = f"listen tcp 127.0.0.1:{taken_port}: bind: Address already in use"
    assert (reply.status, reply.text) == (500, error_body(message, 500))
    assert list(await api.state()) == ["p"]


async def test_populate_bind_failure_is_500_listing_what_was_created(api: Api, taken_port: int) -> None:
    body = [
        {"name": "a", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"},
        {"name": "b", "listen": f"127.0.0.1:{taken_port}", "upstream": "127.0.0.1:1"},
    ]
    reply = await api.call("POST", "/populate", json.dumps(body).encode())
    state = await api.state()
    message = f"listen tcp 127.0.0.1:{taken_port}: bind: Address already in use"
    expected = {"error": message, "status": 500, "proxies": [state["a"]]}  # JSON, no newline: as Toxiproxy
    assert (reply.status, json.loads(reply.text), reply.text.endswith("\n")) == (500, expected, False)
    assert sorted(state) == ["a", "p"]
    assert await api.echo_through() == b"still here"
