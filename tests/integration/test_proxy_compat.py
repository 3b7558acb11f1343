"""To the letter, addresses and toxic values: where toxiproxy-server and ours were measured apart.

Over real HTTP to a running server and real TCP through its proxies:

1. listen addresses are compared once resolved (``localhost:P`` is ``127.0.0.1:P``): an update
   to the same address keeps the open connections, a populate keeps the same proxy (toxics too);
2. a missing listen address is every interface (``[::]:PORT``) when the server allows remote
   addresses, else a 400 saying why; a port out of range is an error; a service name is a port;
3. every toxic takes Toxiproxy's defaults (slicer ``average_size`` 0 too), and a value that
   crashes Toxiproxy's data path (bandwidth below 0, slicer 0) is accepted and made safe.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from gameday.proxy import TOXIC_TYPES
from gameday.proxy.limits import MISSING_LISTEN
from gameday.proxy.testing import Stream, echo_server, free_port, served_api

pytestmark = pytest.mark.integration

READ_TIMEOUT = 5.0  # s


@asynccontextmanager
async def connected(port: int) -> AsyncIterator[Stream]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield reader, writer
    finally:
        writer.close()


async def echoed(stream: Stream, data: bytes) -> bytes:
    """``data`` sent through an echo proxy; what came back (b"" once the proxy closed it)."""
    reader, writer = stream
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.readexactly(len(data)), READ_TIMEOUT)
    except (asyncio.IncompleteReadError, ConnectionError):
        return b""


def error_of(text: str) -> str:
    message: str = json.loads(text)["error"]
    return message


# -- 1. listen addresses compared once resolved -----------------------------------------------
@pytest.mark.parametrize(("created", "updated", "kept"), [
    ("127.0.0.1:{port}", "localhost:{port}", True),
    ("localhost:{port}", "127.0.0.1:{port}", True),
    ("localhost:{port}", "[::ffff:127.0.0.1]:{port}", True),
    ("127.0.0.1:{port}", "127.0.0.1:0", False),  # another address: a restart, as in Toxiproxy
])
async def test_an_update_to_the_same_resolved_listen_address_keeps_connections(
    created: str, updated: str, kept: bool
) -> None:
    port = free_port()
    async with served_api(seed=1) as api, echo_server() as echo:
        body = {"name": "p", "listen": created.format(port=port), "upstream": f"127.0.0.1:{echo.port}"}
        assert (await api.call("POST", "/proxies", body))["listen"] == f"127.0.0.1:{port}"
        await api.add_toxic("p", "latency", attributes={"latency": 1})
        async with connected(port) as stream:
            assert await echoed(stream, b"before") == b"before"
            proxy = await api.call("POST", "/proxies/p", {"listen": updated.format(port=port)})
            assert [toxic["name"] for toxic in proxy["toxics"]] == ["latency_downstream"]
            assert (proxy["listen"] == f"127.0.0.1:{port}") is kept
            assert await echoed(stream, b"after") == (b"after" if kept else b"")


async def test_populate_keeps_a_proxy_whose_listen_address_resolves_the_same() -> None:
    port = free_port()
    async with served_api(seed=1) as api, echo_server() as echo:
        proxy = {"name": "p", "listen": f"127.0.0.1:{port}", "upstream": f"127.0.0.1:{echo.port}"}
        await api.call("POST", "/populate", [proxy])
        await api.add_toxic("p", "noop")
        async with connected(port) as stream:
            assert await echoed(stream, b"one") == b"one"
            same = await api.call("POST", "/populate", [{**proxy, "listen": f"localhost:{port}"}])
            assert [toxic["name"] for toxic in same["proxies"][0]["toxics"]] == ["noop_downstream"]
            assert await echoed(stream, b"two") == b"two"
            # the upstream is compared as written, as Toxiproxy does: this one replaces the proxy
            other = await api.call("POST", "/populate", [{**proxy, "upstream": f"localhost:{echo.port}"}])
            assert other["proxies"][0]["toxics"] == []
            assert await echoed(stream, b"three") == b""


# -- 2. missing listen address, ports -----------------------------------------------------------
async def test_a_missing_listen_address_is_every_interface_when_remote_is_allowed() -> None:
    async with served_api(seed=1, allow_remote=True) as api, echo_server() as echo:
        proxy = await api.call("POST", "/proxies", {"name": "p", "upstream": f"127.0.0.1:{echo.port}"})
        host, port = proxy["listen"].rsplit(":", 1)
        assert (host, proxy["enabled"]) == ("[::]", True)  # as Toxiproxy reports it
        async with connected(int(port)) as stream:
            assert await echoed(stream, b"any interface") == b"any interface"


async def test_a_missing_listen_address_is_refused_on_a_loopback_only_server() -> None:
    async with served_api(seed=1) as api:
        status, text = await api.send("POST", "/proxies", b'{"name": "p", "upstream": "127.0.0.1:1"}')
        assert (status, error_of(text)) == (400, MISSING_LISTEN)
        assert "--allow-remote" in MISSING_LISTEN
        assert await api.call("GET", "/proxies") == {}


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/proxies", {"name": "q", "listen": "127.0.0.1:99999", "upstream": "127.0.0.1:1"}),
    ("POST", "/proxies", {"name": "q", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:65536"}),
    ("POST", "/proxies/p", {"listen": "localhost:99999"}),
    ("POST", "/populate", [{"name": "q", "listen": "127.0.0.1:99999", "upstream": "127.0.0.1:1"}]),
])
async def test_a_port_out_of_range_is_an_error_and_binds_nothing(method: str, path: str, body: Any) -> None:
    async with served_api(seed=1) as api:
        await api.call("POST", "/proxies", {"name": "p", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"})
        before = await api.call("GET", "/proxies")
        status, text = await api.send(method, path, json.dumps(body).encode())
        assert status == 400
        assert "invalid port" in error_of(text)
        assert await api.call("GET", "/proxies") == before
        with pytest.raises(ConnectionRefusedError):  # where 99999 used to wrap to
            socket.create_connection(("127.0.0.1", 99999 % 65536), timeout=2).close()


def free_service() -> tuple[str, int]:
    """A TCP service name whose port nothing listens on and this process may bind."""
    names = ["http", "http-alt", "webcache", "git", "svn", "nut", "sieve", "xmpp-client", "amqp", "x11",
             "ircd", "mysql", "postgresql", "redis", "zabbix-agent", "bacula-dir", "mongodb"]
    for name in names:
        try:
            port = socket.getservbyname(name, "tcp")
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return name, port
    pytest.skip("no TCP service name with a free port this process may bind")


async def test_a_service_name_as_a_port_resolves() -> None:
    name, port = free_service()
    async with served_api(seed=1) as api, echo_server() as echo:
        body = {"name": "p", "listen": f"127.0.0.1:{name.upper()}", "upstream": f"127.0.0.1:{echo.port}"}
        assert (await api.call("POST", "/proxies", body))["listen"] == f"127.0.0.1:{port}"
        async with connected(port) as stream:
            assert await echoed(stream, b"by name") == b"by name"


# -- 3. toxic values ----------------------------------------------------------------------------
@pytest.mark.parametrize("type_name", sorted(TOXIC_TYPES))
async def test_every_toxic_takes_toxiproxys_defaults(type_name: str) -> None:
    async with served_api(seed=1) as api:
        await api.call("POST", "/proxies", {"name": "p", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"})
        toxic = await api.add_toxic("p", type_name)
        assert set(toxic["attributes"].values()) <= {0}
        explicit = await api.add_toxic("p", type_name, name="explicit", attributes=toxic["attributes"])
        assert explicit["attributes"] == toxic["attributes"]


@pytest.mark.parametrize("type_name", sorted(set(TOXIC_TYPES) - {"noop"}))
async def test_every_negative_attribute_is_answered_as_toxiproxy_answers_it(type_name: str) -> None:
    async with served_api(seed=1) as api:
        await api.call("POST", "/proxies", {"name": "p", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"})
        names = (await api.add_toxic("p", type_name, name="zero"))["attributes"]
        negative = {name: -1 for name in names}
        assert (await api.add_toxic("p", type_name, attributes=negative))["attributes"] == negative


async def test_a_negative_bandwidth_holds_the_data_until_removed_instead_of_crashing() -> None:
    """Toxiproxy answers 200, then panics on the first chunk (a negative slice bound)."""
    async with served_api(seed=1) as api, echo_server() as echo:
        port = await api.create_proxy("p", echo.port)
        async with connected(port) as (reader, writer):
            assert await echoed((reader, writer), b"warm") == b"warm"
            toxic = await api.add_toxic("p", "bandwidth", attributes={"rate": -1})
            assert toxic["attributes"] == {"rate": -1}
            writer.write(b"held")
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(reader.readexactly(4), 0.3)
            assert (await api.send("GET", "/version"))[0] == 200
            await api.remove_toxic("p", "bandwidth_downstream")
            assert await asyncio.wait_for(reader.readexactly(4), READ_TIMEOUT) == b"held"


async def test_a_slicer_of_average_size_0_after_traffic_delivers_every_byte() -> None:
    """Toxiproxy answers 200, then panics on the first chunk (rand.Intn(0)); here 1-byte slices."""
    async with served_api(seed=1) as api, echo_server() as echo:
        port = await api.create_proxy("p", echo.port)
        payload = bytes(range(256)) * 64
        async with connected(port) as stream:
            assert await echoed(stream, b"warm") == b"warm"
            await api.add_toxic("p", "slicer", attributes={"average_size": 0})
            start = time.monotonic()
            assert await echoed(stream, payload) == payload
            assert time.monotonic() - start < READ_TIMEOUT
        assert (await api.send("GET", "/version"))[0] == 200


async def test_a_negative_latency_is_no_delay_as_in_toxiproxy() -> None:
    async with served_api(seed=1) as api, echo_server() as echo:
        port = await api.create_proxy("p", echo.port)
        await api.add_toxic("p", "latency", attributes={"latency": -1000, "jitter": -5})
        async with connected(port) as stream:
            start = time.monotonic()
            assert await echoed(stream, b"now") == b"now"
            assert time.monotonic() - start < 0.5


async def test_a_negative_timeout_never_closes_as_in_toxiproxy() -> None:
    async with served_api(seed=1) as api, echo_server() as echo:
        port = await api.create_proxy("p", echo.port)
        async with connected(port) as (reader, writer):
            await api.add_toxic("p", "timeout", attributes={"timeout": -1})
            writer.write(b"dropped")
            with pytest.raises(TimeoutError):  # neither data nor a close: it waits, as timeout 0
                await asyncio.wait_for(reader.read(1), 0.3)
