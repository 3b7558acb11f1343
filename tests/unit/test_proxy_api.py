"""The Toxiproxy HTTP API: status codes, bodies and defaults, as Toxiproxy's own api_test does."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from gameday.proxy import VERSION, ToxiproxyServer
from gameday.proxy.testing import free_port


@dataclass
class Reply:
    status: int
    text: str
    headers: Any

    def json(self) -> Any:
        return json.loads(self.text)


class Api:
    def __init__(self, server: ToxiproxyServer, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.session = session

    async def call(
        self, method: str, path: str, body: Any = None, raw: bytes | None = None, **kw: Any
    ) -> Reply:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        async with self.session.request(method, self.server.url + path, data=data, **kw) as response:
            return Reply(response.status, await response.text(), response.headers)

    async def create(self, name: str = "redis", upstream: str = "127.0.0.1:20000", **extra: Any) -> Reply:
        return await self.call("POST", "/proxies", {"name": name, "upstream": upstream, **extra})


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async with ToxiproxyServer("127.0.0.1", 0, seed=1) as server, aiohttp.ClientSession() as session:
        yield Api(server, session)


def error_body(message: str, status: int) -> str:
    return json.dumps({"error": message, "status": status}, separators=(",", ":")) + "\n"


# -- server-wide behaviour ---------------------------------------------------------------------
async def test_version_and_request_id(api: Api) -> None:
    reply = await api.call("GET", "/version")
    assert reply.status == 200
    assert reply.json() == {"version": VERSION}
    assert reply.headers["X-Toxiproxy-Request-Id"]


async def test_browser_user_agent_is_forbidden(api: Api) -> None:
    reply = await api.call("GET", "/proxies", headers={"User-Agent": "Mozilla/5.0 (X11)"})
    assert (reply.status, reply.text) == (403, "User agent not allowed\n")
    assert reply.headers["X-Toxiproxy-Request-Id"]


@pytest.mark.parametrize("path", ["/nope", "/proxies/", "/version/", "/proxies/a/toxics/b/c"])
async def test_unknown_paths_are_404(api: Api, path: str) -> None:
    reply = await api.call("GET", path)
    assert (reply.status, reply.text) == (404, "404 page not found\n")
    assert reply.headers["Content-Type"].startswith("text/plain")
    assert reply.headers["X-Toxiproxy-Request-Id"]


@pytest.mark.parametrize(("method", "path"), [("DELETE", "/version"), ("PUT", "/proxies"), ("GET", "/reset")])
async def test_wrong_method_is_405_empty(api: Api, method: str, path: str) -> None:
    reply = await api.call(method, path)
    assert (reply.status, reply.text) == (405, "")


# -- proxies -------------------------------------------------------------------------------------
async def test_create_proxy_reports_bound_listen(api: Api) -> None:
    reply = await api.create(listen="localhost:0")
    assert reply.status == 201
    body = reply.json()
    host, port = body["listen"].rsplit(":", 1)
    assert host == "127.0.0.1"
    assert int(port) > 0
    assert body == {
        "name": "redis",
        "listen": body["listen"],
        "upstream": "127.0.0.1:20000",
        "enabled": True,
        "toxics": [],
    }
    with socket.create_connection(("127.0.0.1", int(port)), timeout=2):
        pass


async def test_create_disabled_proxy_keeps_listen_string(api: Api) -> None:
    reply = await api.create(listen="localhost:0", enabled=False)
    assert reply.status == 201
    assert reply.json()["listen"] == "localhost:0"
    assert reply.json()["enabled"] is False


async def test_create_keys_are_case_insensitive(api: Api) -> None:
    reply = await api.call(
        "POST", "/proxies", {"NAME": "a", "Upstream": "127.0.0.1:1", "LISTEN": "127.0.0.1:0"}
    )
    assert reply.status == 201
    assert reply.json()["name"] == "a"


async def test_create_duplicate_is_409(api: Api) -> None:
    assert (await api.create(listen="127.0.0.1:0")).status == 201
    reply = await api.create(listen="127.0.0.1:0")
    assert (reply.status, reply.text) == (409, error_body("proxy already exists", 409))
    assert reply.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"upstream": "127.0.0.1:1"}, "missing required field: name"),
        ({"name": "a"}, "missing required field: upstream"),
        ({"name": "", "upstream": "127.0.0.1:1"}, "missing required field: name"),
    ],
)
async def test_create_missing_field_is_400(api: Api, body: dict[str, str], message: str) -> None:
    reply = await api.call("POST", "/proxies", body)
    assert (reply.status, reply.text) == (400, error_body(message, 400))


async def test_create_empty_body_is_eof(api: Api) -> None:
    reply = await api.call("POST", "/proxies", raw=b"")
    assert (reply.status, reply.text) == (400, error_body("bad request body: EOF", 400))


async def test_create_wrong_type_is_400(api: Api) -> None:
    reply = await api.call("POST", "/proxies", {"name": 1, "upstream": "127.0.0.1:1"})
    assert reply.status == 400
    assert reply.json()["error"].startswith("bad request body: json: cannot unmarshal number")


async def test_create_bind_failure_is_500_and_not_added(api: Api) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        reply = await api.create(listen=f"127.0.0.1:{port}")
    assert reply.status == 500
    assert reply.json()["status"] == 500
    assert (await api.call("GET", "/proxies/redis")).status == 404


async def test_index_is_keyed_by_name(api: Api) -> None:
    for name in ("b", "a"):
        await api.create(name=name, listen="127.0.0.1:0")
    body = (await api.call("GET", "/proxies")).json()
    assert list(body) == ["a", "b"]
    assert body["a"]["name"] == "a"


async def test_show_and_delete(api: Api) -> None:
    created = (await api.create(listen="127.0.0.1:0")).json()
    shown = await api.call("GET", "/proxies/redis")
    assert (shown.status, shown.json()) == (200, created)
    assert (await api.call("DELETE", "/proxies/redis")).status == 204
    missing = await api.call("GET", "/proxies/redis")
    assert (missing.status, missing.text) == (404, error_body("proxy not found", 404))
    assert (await api.call("DELETE", "/proxies/redis")).status == 404


async def test_disable_closes_listener_and_enable_reopens_same_address(api: Api) -> None:
    listen = (await api.create(listen="127.0.0.1:0")).json()["listen"]
    port = int(listen.rsplit(":", 1)[1])
    reply = await api.call("POST", "/proxies/redis", {"enabled": False})
    assert (reply.status, reply.json()["enabled"], reply.json()["listen"]) == (200, False, listen)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    reply = await api.call("PATCH", "/proxies/redis", {"enabled": True})
    assert (reply.status, reply.json()["enabled"]) == (200, True)
    socket.create_connection(("127.0.0.1", port), timeout=2).close()


async def test_update_listen_restarts_on_new_address(api: Api) -> None:
    await api.create(listen="127.0.0.1:0")
    port = free_port()
    reply = await api.call("POST", "/proxies/redis", {"listen": f"127.0.0.1:{port}"})
    assert reply.json()["listen"] == f"127.0.0.1:{port}"
    assert reply.json()["enabled"] is True
    socket.create_connection(("127.0.0.1", port), timeout=2).close()


# -- toxics --------------------------------------------------------------------------------------
async def add_toxic(api: Api, body: Any, proxy: str = "redis") -> Reply:
    return await api.call("POST", f"/proxies/{proxy}/toxics", body)


async def test_toxic_defaults(api: Api) -> None:
    await api.create(listen="127.0.0.1:0")
    reply = await add_toxic(api, {"type": "latency"})
    assert reply.status == 200
    assert reply.json() == {
        "attributes": {"latency": 0, "jitter": 0},
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1,
    }


async def test_toxic_stream_is_case_insensitive_and_kept_as_written(api: Api) -> None:
    """As Toxiproxy: the stream is matched without case but kept, default name included."""
    await api.create(listen="127.0.0.1:0")
    reply = await add_toxic(api, {"type": "timeout", "stream": "UPSTREAM", "toxicity": 0.5})
    assert reply.json()["name"] == "timeout_UPSTREAM"
    assert reply.json()["stream"] == "UPSTREAM"
    assert reply.json()["toxicity"] == 0.5
    listed = (await api.call("GET", "/proxies/redis/toxics")).json()
    assert [(toxic["name"], toxic["stream"]) for toxic in listed] == [("timeout_UPSTREAM", "UPSTREAM")]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            {"type": "latency", "stream": "sideways"},
            400,
            "stream was invalid, can be either upstream or downstream",
        ),
        ({"type": "latency", "stream": ""}, 400, "stream was invalid, can be either upstream or downstream"),
        ({"type": "nope"}, 400, "invalid toxic type"),
        ({}, 400, "invalid toxic type"),
    ],
)
async def test_toxic_create_errors(api: Api, body: Any, status: int, message: str) -> None:
    await api.create(listen="127.0.0.1:0")
    reply = await add_toxic(api, body)
    assert (reply.status, reply.text) == (status, error_body(message, status))


async def test_toxic_on_unknown_proxy_is_404(api: Api) -> None:
    reply = await add_toxic(api, {"type": "latency"}, proxy="nope")
    assert (reply.status, reply.text) == (404, error_body("proxy not found", 404))
    assert (await api.call("GET", "/proxies/nope/toxics")).status == 404


async def test_toxic_duplicate_name_across_streams_is_409(api: Api) -> None:
    await api.create(listen="127.0.0.1:0")
    assert (await add_toxic(api, {"type": "latency", "name": "x"})).status == 200
    reply = await add_toxic(api, {"type": "timeout", "name": "x", "stream": "upstream"})
    assert (reply.status, reply.text) == (409, error_body("toxic already exists", 409))


@pytest.mark.parametrize(
    "body",
    [
        {"type": "bandwidth", "attributes": {"rate": 1000000001}},
        {"type": "latency", "attributes": {"latency": -9223372036854775809}},
        {"type": "slicer", "attributes": {"average_size": 1073741825}},
        {"type": "latency", "attributes": {"latency": "100"}},
        {"type": "latency", "attributes": {"latency": 1.5}},
        {"type": "latency", "toxicity": "high"},
    ],
)
async def test_toxic_bad_attributes_are_400(api: Api, body: Any) -> None:
    await api.create(listen="127.0.0.1:0")
    reply = await add_toxic(api, body)
    assert reply.status == 400
    assert reply.json()["error"].startswith("bad request body: ")
    assert (await api.call("GET", "/proxies/redis/toxics")).json() == []


async def test_toxic_index_lists_upstream_first(api: Api) -> None:
    await api.create(listen="127.0.0.1:0")
    for name, stream in [("d1", "downstream"), ("u1", "upstream"), ("d2", "downstream"), ("u2", "upstream")]:
        await add_toxic(api, {"type": "noop", "name": name, "stream": stream})
    names = [toxic["name"] for toxic in (await api.call("GET", "/proxies/redis/toxics")).json()]
    assert names == ["u1", "u2", "d1", "d2"]
    proxy_toxics = (await api.call("GET", "/proxies/redis")).json()["toxics"]
    assert [toxic["name"] for toxic in proxy_toxics] == names


async def test_toxic_update_merges_attributes(api: Api) -> None:
    await api.create(listen="127.0.0.1:0")
    await add_toxic(api, {"type": "latency", "toxicity": 0.25, "attributes": {"latency": 100, "jitter": 5}})
    reply = await api.call("POST", "/proxies/redis/toxics/latency_downstream", {"attributes": {"JITTER": 7}})
    assert reply.status == 200
    assert reply.json()["attributes"] == {"latency": 100, "jitter": 7}
    assert reply.json()["toxicity"] == 0.25
    reply = await api.call("PATCH", "/proxies/redis/toxics/latency_downstream", {"toxicity": 1})
    assert reply.json()["toxicity"] == 1
    shown = await api.call("GET", "/proxies/redis/toxics/latency_downstream")
    assert shown.json() == reply.json()


async def test_toxic_update_bad_value_leaves_toxic_unchanged(api: Api) -> None:
    await api.create(listen="127.0.0.1:0")
    await add_toxic(api, {"type": "bandwidth", "attributes": {"rate": 10}})
    path = "/proxies/redis/toxics/bandwidth_downstream"
    reply = await api.call("POST", path, {"attributes": {"rate": "1"}})
    assert reply.status == 400
    shown = await api.call("GET", "/proxies/redis/toxics/bandwidth_downstream")
    assert shown.json()["attributes"] == {"rate": 10}


async def test_toxic_show_and_delete(api: Api) -> None:
    await api.create(listen="127.0.0.1:0")
    await add_toxic(api, {"type": "slow_close"})
    assert (await api.call("GET", "/proxies/redis/toxics/slow_close_downstream")).status == 200
    assert (await api.call("DELETE", "/proxies/redis/toxics/slow_close_downstream")).status == 204
    reply = await api.call("GET", "/proxies/redis/toxics/slow_close_downstream")
    assert (reply.status, reply.text) == (404, error_body("toxic not found", 404))
    assert (await api.call("DELETE", "/proxies/redis/toxics/slow_close_downstream")).status == 404


# -- reset and populate --------------------------------------------------------------------------
async def test_reset_enables_proxies_and_removes_toxics(api: Api) -> None:
    await api.create(listen="127.0.0.1:0")
    await add_toxic(api, {"type": "latency"})
    await api.call("POST", "/proxies/redis", {"enabled": False})
    reply = await api.call("POST", "/reset")
    assert (reply.status, reply.text) == (204, "")
    proxy = (await api.call("GET", "/proxies/redis")).json()
    assert (proxy["enabled"], proxy["toxics"]) == (True, [])


async def test_populate_creates_and_reports(api: Api) -> None:
    body = [
        {"name": "one", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"},
        {"name": "two", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:2", "enabled": False},
    ]
    reply = await api.call("POST", "/populate", body)
    assert reply.status == 201
    proxies = reply.json()["proxies"]
    assert [(p["name"], p["enabled"]) for p in proxies] == [("one", True), ("two", False)]
    assert list((await api.call("GET", "/proxies")).json()) == ["one", "two"]


async def test_populate_validates_everything_first(api: Api) -> None:
    body = [{"name": "one", "upstream": "127.0.0.1:1"}, {"upstream": "127.0.0.1:2"}]
    reply = await api.call("POST", "/populate", body)
    message = "missing required field: name at proxy 2"  # as JSON naming what was populated: nothing
    assert (reply.status, reply.json()) == (400, {"error": message, "status": 400, "proxies": None})
    assert reply.headers["Content-Type"] == "application/json"
    assert (await api.call("GET", "/proxies")).json() == {}


async def test_populate_keeps_same_and_replaces_different(api: Api) -> None:
    port = free_port()
    same = {"name": "same", "listen": f"127.0.0.1:{port}", "upstream": "127.0.0.1:1"}
    changed = {"name": "changed", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:2"}
    await api.call("POST", "/populate", [same, changed])
    for proxy in ("same", "changed"):
        await add_toxic(api, {"type": "noop"}, proxy=proxy)
    changed_again = {**changed, "upstream": "127.0.0.1:3"}
    reply = await api.call("POST", "/populate", [same, changed_again])
    assert reply.status == 201
    proxies = (await api.call("GET", "/proxies")).json()
    assert len(proxies["same"]["toxics"]) == 1
    assert proxies["changed"]["toxics"] == []
    assert proxies["changed"]["upstream"] == "127.0.0.1:3"


async def test_populate_rejects_non_array(api: Api) -> None:
    reply = await api.call("POST", "/populate", {"name": "x"})
    assert reply.status == 400
    assert reply.json()["error"].startswith("bad request body: json: cannot unmarshal object")


async def test_api_answers_while_a_toxic_holds_data(api: Api) -> None:
    """The API never waits on the data path (a stalled bandwidth toxic)."""
    await api.create(listen="127.0.0.1:0")
    await add_toxic(api, {"type": "bandwidth", "attributes": {"rate": 0}})
    reply = await asyncio.wait_for(api.call("GET", "/proxies"), timeout=1)
    assert reply.status == 200
