"""Issue 15: every client mistake is a 4xx with Toxiproxy's error body, and changes nothing.

Each bad request below answered 500, or was accepted and left something the API cannot use
(a listener on a wrapped port, a name no path can reach, a NaN toxicity), before the server
checked what it accepts (:mod:`gameday.proxy.limits`). After each: the state is unchanged, the
server still answers, and the existing proxy still carries traffic.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from gameday.loopback import is_loopback_host
from gameday.proxy import ToxiproxyServer, gojson
from gameday.proxy.limits import MAX_BODY_BYTES, MISSING_LISTEN, NAME_RULE, is_host
from gameday.proxy.net import split_host_port
from gameday.proxy.testing import ApiClient, echo_server, served_api

DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE = "9" * 4400  # over Python's 4300-digit int() limit
NOT_LOOPBACK = (
    "is not loopback (127.0.0.0/8, ::1 or localhost); "
    "this server accepts other hosts only when started with allow_remote"
)


def proxy_body(**fields: Any) -> bytes:
    return json.dumps({"name": "q", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1", **fields}).encode()


def cannot_unmarshal(literal: str, field: str, go_type: str) -> str:
    into = f"into Go struct field {field} of type {go_type}"
    return f"bad request body: json: cannot unmarshal number {literal} {into}"


def bad_name(kind: str, shown: str) -> str:
    return f"invalid {kind} name {shown}: a name is {NAME_RULE}"


TOO_DEEP = "bad request body: exceeded max depth: JSON nested deeper than 32 levels"
TOXICITY = "bad request body: toxicity must be between 0 and 1"
HUGE_SHOWN = "9" * 32 + "..."

BAD_REQUESTS: list[tuple[str, str, bytes, str]] = [
    # nesting and numbers no field can hold
    ("POST", "/proxies", DEEP, TOO_DEEP),
    ("POST", "/proxies", proxy_body()[:-1] + b', "x": ' + b"[" * 5000 + b"]" * 5000 + b"}", TOO_DEEP),
    ("POST", "/proxies/p/toxics", b'{"type": "noop", "name": "n", "attributes": ' + DEEP + b"}", TOO_DEEP),
    ("POST", "/populate", DEEP, TOO_DEEP),
    ("POST", "/proxies", f'{{"name": {HUGE}}}'.encode(),
     cannot_unmarshal(HUGE_SHOWN, "toxiproxy.Proxy.name", "string")),
    ("POST", "/proxies/p/toxics", f'{{"type": "latency", "attributes": {{"latency": {HUGE}}}}}'.encode(),
     cannot_unmarshal(HUGE_SHOWN, "LatencyToxic.attributes.latency", "int64")),
    ("POST", "/proxies/p/toxics", b'{"type": "latency", "attributes": {"latency": 100000000000000000000}}',
     cannot_unmarshal("100000000000000000000", "LatencyToxic.attributes.latency", "int64")),
    ("POST", "/proxies/p/toxics", b'{"type": "latency", "toxicity": 1' + b"0" * 400 + b"}",
     cannot_unmarshal("1" + "0" * 31 + "...", "toxics.ToxicWrapper.toxicity", "float32")),
    ("POST", "/proxies/p/toxics", b'{"type": "latency", "toxicity": 1e400}',
     cannot_unmarshal("1e400", "toxics.ToxicWrapper.toxicity", "float32")),
    ("POST", "/proxies/p/toxics", b'{"type": "latency", "toxicity": NaN}',
     "bad request body: invalid character 'N' looking for beginning of value"),
    ("POST", "/proxies/p/toxics", b'{"type": "latency", "toxicity": -Infinity}',
     "bad request body: invalid character 'I' in numeric literal"),
    # numbers bounded per field
    ("POST", "/proxies/p/toxics", b'{"type": "latency", "toxicity": -0.5}', TOXICITY),
    ("POST", "/proxies/p/toxics", b'{"type": "latency", "toxicity": 1.5}', TOXICITY),
    ("POST", "/proxies/p/toxics", b'{"type": "latency", "attributes": {"latency": 86400001}}',
     "bad request body: latency must be at most 86400000"),
    ("POST", "/proxies/p/toxics", b'{"type": "latency", "attributes": {"jitter": 9223372036854775807}}',
     "bad request body: jitter must be at most 86400000"),
    ("POST", "/proxies/p/toxics", b'{"type": "bandwidth", "attributes": {"rate": 1000000001}}',
     "bad request body: rate must be at most 1000000000"),
    ("POST", "/proxies/p/toxics", b'{"type": "slicer", "attributes": {"average_size": 1, "delay": 1e3}}',
     "bad request body: json: cannot unmarshal number 1000.0 into Go struct field "
     "SlicerToxic.attributes.delay of type int64"),
    ("POST", "/proxies/p/toxics/noop_downstream", b'{"toxicity": 2}', TOXICITY),
    ("POST", "/proxies/p/toxics/noop_downstream", f'{{"toxicity": {HUGE}}}'.encode(),
     cannot_unmarshal(HUGE_SHOWN, "toxics.ToxicWrapper.toxicity", "float32")),
    # addresses: a port, in range
    ("POST", "/proxies", proxy_body(listen="127.0.0.1"),
     "listen address '127.0.0.1': missing port in address"),
    ("POST", "/proxies", proxy_body(listen="127.0.0.1", enabled=False),
     "listen address '127.0.0.1': missing port in address"),
    ("POST", "/proxies", proxy_body(upstream="127.0.0.1"),
     "upstream address '127.0.0.1': missing port in address"),
    ("POST", "/proxies", proxy_body(listen="127.0.0.1:99999"),
     "listen address '127.0.0.1:99999': invalid port '99999': a port is a number 0-65535"),
    ("POST", "/proxies", proxy_body(listen="127.0.0.1:-1"),
     "listen address '127.0.0.1:-1': invalid port '-1': a port is a number 0-65535"),
    ("POST", "/proxies", proxy_body(listen="127.0.0.1:nosuchservice"),
     "listen address '127.0.0.1:nosuchservice': unknown port 'nosuchservice': "
     "not a number 0-65535 nor a TCP service name"),
    ("POST", "/proxies", proxy_body(listen="[::1:0"), "listen address '[::1:0': missing ']' in address"),
    ("POST", "/proxies", proxy_body(listen="\x00:0"),
     "listen address '\\x00:0': host '\\x00' is not an IP address or a host name"),
    ("POST", "/proxies", proxy_body(upstream="127.0.0.1:0"),
     "upstream address '127.0.0.1:0': port must be 1-65535"),
    ("POST", "/proxies/p", b'{"listen": "127.0.0.1:65536"}',
     "listen address '127.0.0.1:65536': invalid port '65536': a port is a number 0-65535"),
    ("POST", "/proxies/p", b'{"upstream": "nowhere"}', "upstream address 'nowhere': missing port in address"),
    ("POST", "/populate", b"[" + proxy_body(listen="127.0.0.1") + b"]",
     "listen address '127.0.0.1': missing port in address at proxy 1"),
    ("POST", "/populate", b"[" + proxy_body() + b"," + proxy_body(upstream="127.0.0.1:2") + b"]",
     "duplicate name 'q' at proxy 2"),
    # names the API can address
    ("POST", "/proxies", proxy_body(name="a/b"), bad_name("proxy", "'a/b'")),
    ("POST", "/proxies", proxy_body(name="a\x00b"), bad_name("proxy", "'a\\x00b'")),
    ("POST", "/proxies", proxy_body(name="bell\x07"), bad_name("proxy", "'bell\\x07'")),
    ("POST", "/proxies", proxy_body(name="tab\there"), bad_name("proxy", "'tab\\there'")),
    ("POST", "/proxies", proxy_body(name=" q"), bad_name("proxy", "' q'")),
    ("POST", "/proxies", proxy_body(name="q "), bad_name("proxy", "'q '")),
    ("POST", "/proxies", proxy_body(name=".."), bad_name("proxy", "'..'")),
    ("POST", "/proxies", proxy_body(name="caf\u00e9"), bad_name("proxy", "'caf\u00e9'")),
    ("POST", "/proxies", proxy_body(name="x" * 129),
     bad_name("proxy", f"{'x' * 32!r}... (129 characters)")),
    ("POST", "/proxies", proxy_body(name="x" * 1_000_000),
     bad_name("proxy", f"{'x' * 32!r}... (1000000 characters)")),
    ("POST", "/populate", b"[" + proxy_body(name="a/b") + b"]", bad_name("proxy", "'a/b'") + " at proxy 1"),
    ("POST", "/proxies/p/toxics", b'{"type": "noop", "name": "x/y"}', bad_name("toxic", "'x/y'")),
    # loopback only, unless the server allows remote addresses
    ("POST", "/proxies", proxy_body(listen="0.0.0.0:0"),
     f"listen address '0.0.0.0:0': host '0.0.0.0' {NOT_LOOPBACK}"),
    ("POST", "/proxies", b'{"name": "q", "upstream": "127.0.0.1:1"}', MISSING_LISTEN),
    ("POST", "/proxies", proxy_body(listen=":0"),
     f"listen address ':0': host '' (every interface) {NOT_LOOPBACK}"),
    ("POST", "/proxies", proxy_body(upstream="192.0.2.1:80"),
     f"upstream address '192.0.2.1:80': host '192.0.2.1' {NOT_LOOPBACK}"),
    ("POST", "/proxies/p", b'{"upstream": "example.com:80"}',
     f"upstream address 'example.com:80': host 'example.com' {NOT_LOOPBACK}"),
    ("POST", "/populate", b"[" + proxy_body(listen="[::]:0") + b"]",
     f"listen address '[::]:0': host '::' {NOT_LOOPBACK} at proxy 1"),
]


class Rig:
    def __init__(self, api: ApiClient) -> None:
        self.api = api

    async def state(self) -> Any:
        status, text = await self.api.send("GET", "/proxies")
        assert status == 200
        return json.loads(text)

    async def echo_through(self, name: str = "p") -> bytes:
        host, port = (await self.state())[name]["listen"].rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(b"still here")
            return await asyncio.wait_for(reader.readexactly(10), 5)
        finally:
            writer.close()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with served_api(seed=15) as api, echo_server() as echo:
        await api.call("POST", "/proxies", {"name": "p", "listen": "127.0.0.1:0",
                                            "upstream": f"127.0.0.1:{echo.port}"})
        await api.add_toxic("p", "noop")
        yield Rig(api)


def error_body(message: str, status: int, path: str = "") -> str:
    """Toxiproxy's error body: a line of text, but populate's is JSON naming what it populated."""
    if path == "/populate":
        return json.dumps({"error": message, "status": status, "proxies": None}, separators=(",", ":"))
    return json.dumps({"error": message, "status": status}, separators=(",", ":")) + "\n"


@pytest.mark.parametrize(("method", "path", "raw", "message"), BAD_REQUESTS,
                         ids=[f"{i}-{case[1]}" for i, case in enumerate(BAD_REQUESTS)])
async def test_bad_request_is_400_and_changes_nothing(
    rig: Rig, method: str, path: str, raw: bytes, message: str
) -> None:
    before = await rig.state()
    assert await rig.api.send(method, path, raw) == (400, error_body(message, 400, path))
    assert await rig.state() == before
    assert await rig.api.send("GET", "/version") == (200, '{"version": "2.12.0"}\n')
    assert await rig.echo_through() == b"still here"


async def test_a_wrapping_port_binds_nothing(rig: Rig) -> None:
    status, _ = await rig.api.send("POST", "/proxies", proxy_body(listen="127.0.0.1:99999"))
    assert status == 400
    assert "q" not in await rig.state()  # it used to listen on 99999 % 65536 = 34463


async def test_a_huge_number_under_an_unknown_key_is_ignored(rig: Rig) -> None:
    """As Go ignores it: not a 500 (Python refuses to read it as an int) and not a 400."""
    status, text = await rig.api.send("POST", "/proxies", proxy_body()[:-1] + f', "x": {HUGE}}}'.encode())
    assert (status, json.loads(text)["name"]) == (201, "q")


async def test_bounds_are_inclusive(rig: Rig) -> None:
    body = {"type": "latency", "name": "edge", "toxicity": 0, "attributes": {"latency": 86_400_000}}
    toxic = await rig.api.call("POST", "/proxies/p/toxics", body)
    assert (toxic["toxicity"], toxic["attributes"]["latency"]) == (0, 86_400_000)
    assert (await rig.api.call("POST", "/proxies/p/toxics/edge", {"toxicity": 1}))["toxicity"] == 1


async def test_body_over_the_limit_is_413_with_the_error_body(rig: Rig) -> None:
    before = await rig.state()
    padded = proxy_body()[:-1] + b', "pad": "'
    raw = padded + b"x" * (MAX_BODY_BYTES + 1 - len(padded) - 2) + b'"}'
    assert len(raw) == MAX_BODY_BYTES + 1
    async with rig.api.session.post(rig.api.url + "/proxies", data=io.BytesIO(raw)) as response:
        limit = f"request body too large: the limit is {MAX_BODY_BYTES} bytes"
        assert (response.status, await response.text()) == (413, error_body(limit, 413))
        assert response.headers["X-Toxiproxy-Request-Id"]
    assert await rig.state() == before
    at_limit = io.BytesIO(raw[:-3] + b'"}')
    async with rig.api.session.post(rig.api.url + "/proxies", data=at_limit) as response:
        assert response.status == 201


async def test_a_long_name_is_not_echoed_back(rig: Rig) -> None:
    status, text = await rig.api.send("POST", "/proxies", proxy_body(name="n" * 1_000_000))
    assert status == 400
    assert len(text) < 300


ADDRESSABLE_NAMES = [
    "gd-20260101T000000-ab12.oms-primary->exchange",
    "a b",
    "x" * 128,
    "...",
    "%2F",
    "?#&=+;,",
    "\"'\\<>{}[]|^`~!@$*()",
]


@pytest.mark.parametrize("name", ADDRESSABLE_NAMES)
async def test_every_accepted_name_can_be_reached_and_deleted(rig: Rig, name: str) -> None:
    path = "/proxies/" + quote(name, safe="")
    status, _ = await rig.api.send("POST", "/proxies", proxy_body(name=name))
    assert status == 201
    status, text = await rig.api.send("GET", path)
    assert (status, json.loads(text)["name"]) == (200, name)
    toxic = json.dumps({"type": "noop", "name": name}).encode()
    assert (await rig.api.send("POST", path + "/toxics", toxic))[0] == 200
    assert (await rig.api.send("DELETE", f"{path}/toxics/{quote(name, safe='')}"))[0] == 204
    assert (await rig.api.send("DELETE", path))[0] == 204
    assert list(await rig.state()) == ["p"]


@pytest.mark.parametrize("listen", ["127.0.0.1:0", "127.9.9.9:0", "localhost:0", "[::1]:0"])
async def test_loopback_listen_addresses_are_accepted(rig: Rig, listen: str) -> None:
    status, text = await rig.api.send("POST", "/proxies", proxy_body(listen=listen, upstream="[::1]:1"))
    assert status == 201, text


async def test_allow_remote_accepts_other_hosts() -> None:
    remote = {"name": "r", "listen": "127.0.0.1:0", "upstream": "192.0.2.1:80"}
    async with ToxiproxyServer("127.0.0.1", 0, seed=1, allow_remote=True) as server, \
            aiohttp.ClientSession() as session:
        api = ApiClient(server.url, session)
        assert (await api.call("POST", "/proxies", remote))["upstream"] == "192.0.2.1:80"
        updated = await api.call("POST", "/proxies/r", {"upstream": "example.invalid:80"})
        assert updated["upstream"] == "example.invalid:80"
        status, text = await api.send("POST", "/proxies/r", b'{"upstream": "example.invalid"}')
        assert status == 400, text  # the address rules still hold


# -- the pure pieces ---------------------------------------------------------------------------
@pytest.mark.parametrize(("address", "parts"), [
    ("127.0.0.1:0", ("127.0.0.1", 0)), ("[::1]:65535", ("::1", 65535)), (":80", ("", 80)),
    ("localhost:8474", ("localhost", 8474)), ("h:0080", ("h", 80)), ("h:000000000080", ("h", 80)),
    ("h:http", ("h", 80)), ("h:HTTPS", ("h", 443)),
])
def test_split_host_port(address: str, parts: tuple[str, int]) -> None:
    assert split_host_port(address) == parts


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.0.0.1:", "::1:80", "[::1:80", "a]:1", "h:65536", "h:99999", "h:-1", "h:+1",
    "h:\u0661", "h:0x10", "h:" + "9" * 5000,
])
def test_split_host_port_refuses(address: str) -> None:
    with pytest.raises(ValueError, match=r"in address|invalid port|unknown port"):
        split_host_port(address)


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.255.0.9", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("LocalHost", True), ("0.0.0.0", False), ("::", False), ("", False), ("10.0.0.1", False),
    ("localhost.example.com", False), ("128.0.0.1", False),
])
def test_loopback_is_read_from_the_spelling(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize(("host", "valid"), [
    ("db-1.internal", True), ("fe80::1%eth0", True), ("", True), ("a..b", False), ("a b", False),
    ("fe80::1%a b", False), ("x" * 64, False), ("caf\u00e9", False),
])
def test_hosts_are_ip_addresses_or_dns_names(host: str, valid: bool) -> None:
    assert is_host(host) is valid


def test_nesting_depth_skips_strings() -> None:
    assert gojson.nesting_depth('{"a": "[[[\\"[{", "b": [[]]}') == 3
    assert gojson.nesting_depth('"[[[') == 0  # an unterminated string holds no brackets
    assert gojson.parse(b"[" * 32 + b"]" * 32) is not None
