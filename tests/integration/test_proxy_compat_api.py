"""To the letter, the API's answers: where toxiproxy-server and ours were measured apart.

Over real HTTP to a running server: a toxic's stream is kept as written (and names its default
name); ``POST /populate`` with ``[]`` or ``null``, and its error bodies, are Toxiproxy's; every
answer has Toxiproxy's content type; ``/metrics`` exists only when asked for.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from multidict import CIMultiDictProxy

from gameday.proxy import MetricsOptions
from gameday.proxy.testing import ApiClient, served_api, upstream_server

pytestmark = pytest.mark.integration

GO_ERROR = "text/plain; charset=utf-8"  # what Go's http.Error writes


@dataclass
class Answer:
    status: int
    raw: bytes
    headers: CIMultiDictProxy[str]

    def json(self) -> object:
        return json.loads(self.raw)


async def ask(api: ApiClient, method: str, path: str, raw: bytes | None = None) -> Answer:
    async with api.session.request(method, api.url + path, data=raw) as response:
        return Answer(response.status, await response.read(), response.headers)


@pytest.fixture
async def api() -> AsyncIterator[ApiClient]:
    async with served_api(seed=1) as client:
        yield client


# -- stream names -----------------------------------------------------------------------------
async def test_a_stream_is_kept_as_written_and_names_the_default_toxic(api: ApiClient) -> None:
    async with upstream_server() as upstream:
        port = await api.create_proxy("p", upstream.port)
        toxic = await api.add_toxic("p", "latency", stream="UpStream", attributes={"latency": 150})
        assert (toxic["name"], toxic["stream"]) == ("latency_UpStream", "UpStream")
        assert (await api.call("GET", "/proxies/p/toxics/latency_UpStream"))["stream"] == "UpStream"
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            reader, _ = await upstream.accept()
            start = time.monotonic()
            writer.write(b"up")
            assert await asyncio.wait_for(reader.readexactly(2), 5) == b"up"
            assert time.monotonic() - start >= 0.14  # the upstream stream it names, delayed
        finally:
            writer.close()


# -- populate -----------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", [b"[]", b"null", b" null trailing"])
async def test_populate_with_nothing_answers_null_proxies(api: ApiClient, raw: bytes) -> None:
    answer = await ask(api, "POST", "/populate", raw)
    assert (answer.status, answer.raw) == (201, b'{"proxies":null}')
    assert answer.headers["Content-Type"] == "application/json"
    assert await api.call("GET", "/proxies") == {}


@pytest.mark.parametrize(("raw", "status", "message"), [
    (b"x", 400, "bad request body: invalid character 'x' looking for beginning of value"),
    (b'[{"upstream": "127.0.0.1:1"}]', 400, "missing required field: name at proxy 1"),
    (b'[{"name": "a", "listen": "127.0.0.1:0"}]', 400, "missing required field: upstream at proxy 1"),
])
async def test_populate_errors_are_json_naming_no_proxies(
    api: ApiClient, raw: bytes, status: int, message: str
) -> None:
    answer = await ask(api, "POST", "/populate", raw)
    expected = json.dumps({"error": message, "status": status, "proxies": None}, separators=(",", ":"))
    assert (answer.status, answer.raw.decode()) == (status, expected)  # no newline: not http.Error
    assert answer.headers["Content-Type"] == "application/json"


async def test_a_populate_failing_part_way_names_the_proxies_it_populated(api: ApiClient) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        body = [{"name": "a", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"},
                {"name": "b", "listen": f"127.0.0.1:{port}", "upstream": "127.0.0.1:1"}]
        answer = await ask(api, "POST", "/populate", json.dumps(body).encode())
    created = await api.call("GET", "/proxies/a")
    message = f"listen tcp 127.0.0.1:{port}: bind: Address already in use"
    assert (answer.status, answer.json()) == (500, {"error": message, "status": 500, "proxies": [created]})
    assert answer.headers["Content-Type"] == "application/json"


# -- content types ------------------------------------------------------------------------------
async def test_json_answers_are_application_json(api: ApiClient) -> None:
    body = json.dumps({"name": "p", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"}).encode()
    answers = [await ask(api, "POST", "/proxies", body),
               await ask(api, "GET", "/proxies"),
               await ask(api, "GET", "/proxies/p"),
               await ask(api, "POST", "/proxies/p", b'{"enabled": true}'),
               await ask(api, "POST", "/proxies/p/toxics", b'{"type": "noop"}'),
               await ask(api, "GET", "/proxies/p/toxics"),
               await ask(api, "GET", "/proxies/p/toxics/noop_downstream")]
    assert [(a.status, a.headers["Content-Type"]) for a in answers] == [
        (201, "application/json"), *[(200, "application/json")] * 6]


async def test_version_is_toxiproxys_bytes(api: ApiClient) -> None:
    answer = await ask(api, "GET", "/version")
    assert (answer.status, answer.raw) == (200, b'{"version": "2.12.0"}\n')
    assert answer.headers["Content-Type"] == "application/json;charset=utf-8"


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/proxies/nope", 404), ("GET", "/nope", 404), ("POST", "/proxies", 400),
])
async def test_errors_are_written_as_go_writes_them(
    api: ApiClient, method: str, path: str, status: int
) -> None:
    answer = await ask(api, method, path, b"" if method == "POST" else None)
    assert answer.status == status
    assert answer.raw.endswith(b"\n")
    assert answer.headers["Content-Type"] == GO_ERROR
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


async def test_no_content_and_wrong_methods_carry_no_content_type(api: ApiClient) -> None:
    for method, path, status in (("POST", "/reset", 204), ("PUT", "/version", 405)):
        answer = await ask(api, method, path)
        assert (answer.status, answer.raw) == (status, b"")
        assert "Content-Type" not in answer.headers


# -- /metrics, only when asked for ----------------------------------------------------------------
async def test_metrics_do_not_exist_unless_asked_for(api: ApiClient) -> None:
    answer = await ask(api, "GET", "/metrics")
    assert (answer.status, answer.raw) == (404, b"404 page not found\n")


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_proxy_metrics_when_asked_for(method: str) -> None:
    async with served_api(seed=1, metrics=MetricsOptions(proxy=True)) as api:
        await api.create_proxy("p", 1)
        answer = await ask(api, method, "/metrics")  # any method, as Toxiproxy routes it
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = answer.raw.decode()
    assert 'toxiproxy_proxy_received_bytes_total{direction="upstream",' in text
    assert "process_cpu_seconds_total" not in text


async def test_runtime_metrics_when_asked_for() -> None:
    async with served_api(seed=1, metrics=MetricsOptions(runtime=True)) as api:
        await api.create_proxy("p", 1)
        answer = await ask(api, "GET", "/metrics")
    text = answer.raw.decode()
    assert answer.status == 200
    assert "\nprocess_cpu_seconds_total " in text
    assert "toxiproxy_proxy" not in text
