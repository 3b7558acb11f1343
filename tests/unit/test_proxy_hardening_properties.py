"""Issue 15, as properties: random bodies at every changing endpoint never get a 5xx.

Hypothesis throws JSON of every shape (wrong types, NaN, 4400-digit numbers, deep nesting,
bytes that are not JSON, near-miss names and addresses) at ``POST /proxies``,
``POST /proxies/{name}``, ``POST /proxies/{name}/toxics``, a toxic's update and ``/populate``.
After each request: the status is below 500; the server answers ``GET /version``; a refused
request changed nothing (and the proxy it aimed at still carries bytes); an accepted one changed
exactly what its answer says; and every listed proxy is one the API can address, on loopback,
with toxics in bounds (attributes any int64 up to their maxima, as Toxiproxy takes them).

The server runs in a thread with its own loop, so the hypothesis tests are plain sync functions
with one server per module; each example starts from the same state: one proxy ``p`` to an echo
upstream, with one ``noop`` toxic.
"""

from __future__ import annotations

import asyncio
import http.client
import ipaddress
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gameday.proxy import TOXIC_TYPES, VERSION, ToxiproxyServer
from gameday.proxy.testing import echo_server

BASE = "p"
TOXIC = "noop_downstream"
SETTINGS = settings(max_examples=300, deadline=timedelta(seconds=5), database=None,
                    suppress_health_check=[HealthCheck.too_slow])


# -- the server, in a thread of its own --------------------------------------------------------
class Background:
    """A ToxiproxyServer and an echo upstream served from their own thread and event loop."""

    def __init__(self) -> None:
        self.api_port = self.echo_port = 0
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="hardening-server", daemon=True)

    def __enter__(self) -> Background:
        self._thread.start()
        if not self._ready.wait(30) or self._failure is not None:
            raise RuntimeError("the server did not start") from self._failure
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self._failure = exc
            self._ready.set()

    async def _serve(self) -> None:
        async with ToxiproxyServer("127.0.0.1", 0, seed=15) as server, echo_server() as echo:
            self.api_port, self.echo_port = server.port, echo.port
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            self._ready.set()
            await self._stop.wait()

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
        """(status, the answer: decoded if JSON, else text), over a connection of its own."""
        connection = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=30)
        try:
            connection.request(method, path, body=body)
            response = connection.getresponse()
            text = response.read()
        finally:
            connection.close()
        return response.status, strict_json(text.decode()) if text else None

    def fresh(self) -> dict[str, Any]:
        """Back to one proxy ``p`` with one ``noop`` toxic; the proxy list."""
        for name in self.call("GET", "/proxies")[1]:
            assert self.call("DELETE", "/proxies/" + quote(name, safe=""))[0] == 204
        base = {"name": BASE, "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{self.echo_port}"}
        assert self.call("POST", "/proxies", json.dumps(base).encode())[0] == 201
        assert self.call("POST", f"/proxies/{BASE}/toxics", b'{"type": "noop"}')[0] == 200
        status, state = self.call("GET", "/proxies")
        assert status == 200
        return dict(state)


def strict_json(text: str) -> Any:
    """``text`` decoded if it is JSON (an error body is, as text/plain), else ``text`` itself."""

    def refuse(literal: str) -> None:
        raise AssertionError(f"the server wrote {literal}, which is not JSON")

    try:
        return json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError:
        return text


@pytest.fixture(scope="module")
def server() -> Iterator[Background]:
    with Background() as background:
        yield background


# -- what every listed proxy must be -----------------------------------------------------------
def addressable(name: str) -> bool:
    printable = all(" " <= char <= "~" for char in name) and "/" not in name
    return 1 <= len(name) <= 128 and printable and name == name.strip(" ") and name not in (".", "..")


def on_loopback(address: str, lowest_port: int) -> bool:
    host, _, port = address.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if host.lower() != "localhost" and not ipaddress.ip_address(host).is_loopback:
        return False
    return port.isdigit() and lowest_port <= int(port) <= 65535


def check_proxy(name: str, proxy: dict[str, Any]) -> None:
    assert proxy["name"] == name, proxy
    assert addressable(name), proxy
    assert on_loopback(proxy["listen"], 1 if proxy["enabled"] else 0), proxy
    assert on_loopback(proxy["upstream"], 1), proxy
    toxics = proxy["toxics"]
    assert len({toxic["name"] for toxic in toxics}) == len(toxics), toxics
    streams = [toxic["stream"].lower() for toxic in toxics]  # kept as written, as Toxiproxy does
    assert streams == sorted(streams, key=lambda stream: stream != "upstream"), streams
    for toxic in toxics:
        assert addressable(toxic["name"]), toxic
        assert toxic["type"] in TOXIC_TYPES, toxic
        assert 0 <= toxic["toxicity"] <= 1, toxic
        assert all(isinstance(v, int) and -(2**63) <= v < 2**63 for v in toxic["attributes"].values()), toxic


def echoes_through(listen: str) -> bool:
    host, _, port = listen.rpartition(":")
    with socket.create_connection((host.strip("[]"), int(port)), timeout=5) as sock:
        sock.sendall(b"still here")
        received = b""
        while len(received) < 10 and (chunk := sock.recv(10 - len(received))):
            received += chunk
    return received == b"still here"


Effect = Callable[[dict[str, Any], Any], dict[str, Any]]  # (state before, answer) -> state after


def check_request(server: Background, method: str, path: str, body: bytes, effect: Effect) -> None:
    before = server.fresh()
    status, answer = server.call(method, path, body)
    event(f"{status}: {answer['error'][:40] if status >= 400 else 'accepted'}")
    assert status < 500, (status, answer)
    assert server.call("GET", "/version") == (200, {"version": VERSION})
    after = server.call("GET", "/proxies")[1]
    assert list(after) == sorted(after)
    for name, proxy in after.items():
        check_proxy(name, proxy)
    if status >= 400:
        shape: dict[str, Any] = {"error": answer["error"], "status": status}
        if path == "/populate":  # Toxiproxy's populate errors also list what was populated: nothing
            shape["proxies"] = None
        assert answer == shape, answer
        assert after == before, "a refused request changed the proxies"
        assert echoes_through(after[BASE]["listen"])
    else:
        assert after == effect(before, answer), answer


# -- random bodies -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Raw:
    """JSON text put into a body as it is (what ``json.dumps`` would never write)."""

    text: str


LITERALS = ["1e400", "-1e400", "NaN", "Infinity", "-Infinity", "9" * 4400, "1" + "0" * 400 + ".5",
            "-0", "1e-400", "9223372036854775808", "[" * 40 + "]" * 40, '"\\u0000"', '"\\ud800"']
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=12) | st.sampled_from(LITERALS).map(Raw))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def encode(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(key)}:{encode(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(encode(item) for item in value) + "]"
    return json.dumps(value)


def sometimes(rarely: st.SearchStrategy[Any], mostly: st.SearchStrategy[Any], one_in: int) -> Any:
    """``rarely`` once in ``one_in`` draws, else ``mostly``."""
    return st.integers(1, one_in).flatmap(lambda roll: rarely if roll == 1 else mostly)


def either(valid: list[Any], invalid: list[Any]) -> st.SearchStrategy[Any]:
    """Mostly one of ``valid``, else one of ``invalid`` or (rarely) any JSON value."""
    wrong = sometimes(VALUES, st.sampled_from(invalid), one_in=4)
    return sometimes(wrong, st.sampled_from(valid), one_in=4)


def objects(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with ``fields`` (now and then not all); now and then other keys too (in capitals)."""
    extra = st.dictionaries(st.sampled_from([*(key.upper() for key in fields), "x", "attributes"]),
                            VALUES, min_size=1, max_size=2)
    dropped = sometimes(st.sets(st.sampled_from(list(fields)), min_size=1), st.just(set()), one_in=4)
    return st.builds(lambda known, gone, more: {**more, **{k: v for k, v in known.items() if k not in gone}},
                     st.fixed_dictionaries(fields), dropped, sometimes(extra, st.just({}), one_in=8))


def bodies(shapes: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """Mostly ``shapes``; else any JSON value, or bytes that are rarely JSON at all."""
    anything = VALUES | st.binary(max_size=32).map(lambda raw: Raw(raw.decode("utf-8", "replace")))
    return sometimes(anything, shapes, one_in=5).map(lambda value: encode(value).encode())


NAMES = either(["q", "gd-r1.oms-primary->exchange", "~ !?#%"],
               ["a/b", "", " q", "q ", "..", "x" * 129, "caf\u00e9", "a\x00b", BASE])
LISTENS = either(["127.0.0.1:0", "localhost:0", "127.0.0.2:0"],
                 ["", ":0", "0.0.0.0:0", "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:-1", "[::1:0",
                  "10.0.0.1:0", "127.0.0.1:0x1"])
UPSTREAMS = either(["127.0.0.1:1", "localhost:5", "[::1]:1"],
                   ["127.0.0.1:0", "127.0.0.1", "192.0.2.1:80", "example.com:80", "127.0.0.1:65536", ""])
PROXIES = objects({"name": NAMES, "listen": LISTENS, "upstream": UPSTREAMS,
                   "enabled": either([True, False], [0, "true"])})
GOOD_PROXIES = st.fixed_dictionaries({
    "name": st.sampled_from(["q", "r", "gd-r1.oms-primary->exchange", BASE]),
    "listen": st.sampled_from(["127.0.0.1:0", "localhost:0"]),
    "upstream": st.sampled_from(["127.0.0.1:1", "[::1]:1"]),
}, optional={"enabled": st.booleans()})
POPULATIONS = st.lists(sometimes(PROXIES, GOOD_PROXIES, one_in=3), max_size=4)
ATTRIBUTES = st.dictionaries(
    st.sampled_from(["latency", "jitter", "rate", "delay", "timeout", "average_size", "size_variation",
                     "bytes", "LATENCY"]),
    either([0, 1, 100, 86_400_000, -1, -(2**63)], [86_400_001, 2**63 - 1, 2**63, -(2**63) - 1, 1.5]),
    max_size=4,
)
TOXICITIES = either([0, 1, 0.5, -0.0], [-0.5, 1.0000001, 2])
TOXICS = objects({
    "name": either(["t", "u v"], [TOXIC, "a/b", "", "x" * 129, " t"]),
    "type": either(list(TOXIC_TYPES), ["nope", "LATENCY", ""]),
    "stream": either(["upstream", "downstream", "UPSTREAM", "DownStream"], ["", "both"]),
    "toxicity": TOXICITIES,
    "attributes": ATTRIBUTES,
})


# -- the effect each accepted request must have ------------------------------------------------
def created(before: dict[str, Any], proxy: Any) -> dict[str, Any]:
    assert proxy["name"] not in before
    return dict(sorted({**before, proxy["name"]: proxy}.items()))


def updated(before: dict[str, Any], proxy: Any) -> dict[str, Any]:
    assert proxy["name"] == BASE
    assert proxy["toxics"] == before[BASE]["toxics"]
    return {**before, BASE: proxy}


def toxic_added(before: dict[str, Any], toxic: Any) -> dict[str, Any]:
    toxics = [*before[BASE]["toxics"], toxic]
    toxics.sort(key=lambda entry: entry["stream"].lower() != "upstream")
    return {**before, BASE: {**before[BASE], "toxics": toxics}}


def toxic_updated(before: dict[str, Any], toxic: Any) -> dict[str, Any]:
    assert toxic["name"] == TOXIC
    return {**before, BASE: {**before[BASE], "toxics": [toxic]}}


def populated(before: dict[str, Any], answer: Any) -> dict[str, Any]:
    after = {**before, **{proxy["name"]: proxy for proxy in answer["proxies"] or []}}  # null: none
    return dict(sorted(after.items()))


# -- the properties ----------------------------------------------------------------------------
@SETTINGS
@given(body=bodies(PROXIES))
def test_create(server: Background, body: bytes) -> None:
    check_request(server, "POST", "/proxies", body, created)


@SETTINGS
@given(body=bodies(PROXIES))
def test_update(server: Background, body: bytes) -> None:
    check_request(server, "POST", f"/proxies/{BASE}", body, updated)


@SETTINGS
@given(body=bodies(TOXICS))
def test_add_toxic(server: Background, body: bytes) -> None:
    check_request(server, "POST", f"/proxies/{BASE}/toxics", body, toxic_added)


@SETTINGS
@given(body=bodies(objects({"toxicity": TOXICITIES, "attributes": ATTRIBUTES})))
def test_update_toxic(server: Background, body: bytes) -> None:
    check_request(server, "POST", f"/proxies/{BASE}/toxics/{TOXIC}", body, toxic_updated)


@SETTINGS
@given(body=bodies(POPULATIONS))
def test_populate(server: Background, body: bytes) -> None:
    check_request(server, "POST", "/populate", body, populated)
