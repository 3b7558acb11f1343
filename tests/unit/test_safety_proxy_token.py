"""The fault proxy's API token (issue 15): with one, every route but ``GET /version`` answers 401
without it; without one the API is open, as real Toxiproxy's. The harness's client sends it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from gameday.errors import StackError
from gameday.faults.toxiproxy_client import ToxiproxyClient, ToxiproxyError
from gameday.proxy import ToxiproxyServer
from gameday.proxy.__main__ import ConfigError, read_token
from gameday.stack.external import toxiproxy_token_of
from gameday.target_file import load_target_file

TOKEN = "s3cret-token_for-this-run"
PROXY = {"name": "p", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1", "enabled": True}
ROUTES = [  # every route of the API, with a body where it takes one
    ("GET", "/proxies", None), ("POST", "/proxies", PROXY), ("POST", "/populate", [PROXY]),
    ("POST", "/reset", None), ("GET", "/proxies/p", None), ("POST", "/proxies/p", {"enabled": False}),
    ("PATCH", "/proxies/p", {"enabled": True}), ("GET", "/proxies/p/toxics", None),
    ("POST", "/proxies/p/toxics", {"type": "latency", "attributes": {"latency": 1}}),
    ("GET", "/proxies/p/toxics/latency_downstream", None),
    ("DELETE", "/proxies/p/toxics/latency_downstream", None), ("DELETE", "/proxies/p", None),
    ("GET", "/metrics", None), ("GET", "/nowhere", None), ("PUT", "/proxies", None),
]


@asynccontextmanager
async def served(token: str | None) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    async with ToxiproxyServer("127.0.0.1", 0, seed=1, token=token) as server, \
            aiohttp.ClientSession() as session:
        yield server.url, session


async def _status(session: aiohttp.ClientSession, method: str, url: str, body: object,
                  headers: dict[str, str]) -> tuple[int, str]:
    async with session.request(method, url, json=body, headers=headers) as response:
        return response.status, response.headers.get("WWW-Authenticate", "")


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                                     {"Authorization": f"Basic {TOKEN}"}, {"Authorization": "Bearer "}],
                         ids=["none", "wrong", "no-scheme", "basic", "empty"])
async def test_with_a_token_every_route_but_version_answers_401_without_it(headers: dict[str, str]) -> None:
    async with served(TOKEN) as (url, session):
        answers = {f"{method} {path}": await _status(session, method, url + path, body, headers)
                   for method, path, body in ROUTES}
        version = await _status(session, "GET", url + "/version", None, headers)
    assert answers == {route: (401, 'Bearer realm="toxiproxy"') for route in answers}
    assert version == (200, "")


async def test_with_the_token_every_route_answers_as_before() -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    async with served(TOKEN) as (url, session), served(None) as (open_url, open_session):
        with_token = [(await _status(session, m, url + p, b, bearer))[0] for m, p, b in ROUTES]
        open_api = [(await _status(open_session, m, open_url + p, b, {}))[0] for m, p, b in ROUTES]
    assert with_token == open_api
    assert 401 not in open_api
    assert with_token[:3] == [200, 201, 201]


async def test_the_client_sends_its_token_and_without_it_is_refused() -> None:
    async with served(TOKEN) as (url, session):
        client = ToxiproxyClient(url, session, owner="run1", token=TOKEN)
        created = await client.populate([{"name": "hop", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"}])
        await client.add_toxic("hop", "latency", attributes={"latency": 5})
        assert [proxy["name"] for proxy in created] == ["hop"]
        assert list(await client.proxies()) == ["hop"]
        stranger = ToxiproxyClient(url, session)
        with pytest.raises(ToxiproxyError) as refused:
            await stranger.proxies()
        assert refused.value.status == 401
        assert await client.delete_own() == ["hop"]


def test_the_token_comes_from_the_file_else_the_environment(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(f"{TOKEN}\nignored\n")
    assert read_token(token_file, {"GAMEDAY_PROXY_TOKEN": "from-env"}) == TOKEN
    assert read_token(None, {"GAMEDAY_PROXY_TOKEN": "from-env"}) == "from-env"
    assert read_token(None, {}) is None
    assert read_token(None, {"GAMEDAY_PROXY_TOKEN": ""}) is None
    token_file.write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        read_token(token_file, {})
    with pytest.raises(ConfigError, match="cannot read the token file"):
        read_token(tmp_path / "missing", {})


TARGET = """\
name: staging
oms: {instances: {oms-primary: "http://127.0.0.1:8080"}}
venue: {admin_url: "http://127.0.0.1:9000"}
toxiproxy: {url: "http://127.0.0.1:8474", %s}
"""


def test_a_target_file_gives_the_token_inline_or_by_environment_variable(tmp_path: Path) -> None:
    path = tmp_path / "target.yaml"
    path.write_text(TARGET % "token_env: STAGING_PROXY_TOKEN")
    by_env = load_target_file(path)
    assert toxiproxy_token_of(by_env, {"STAGING_PROXY_TOKEN": TOKEN}) == TOKEN
    with pytest.raises(StackError, match=r"STAGING_PROXY_TOKEN \(toxiproxy.token_env\) is not set"):
        toxiproxy_token_of(by_env, {})
    path.write_text(TARGET % f"token: {TOKEN}")
    inline = load_target_file(path)
    assert toxiproxy_token_of(inline, {}) == TOKEN
    assert TOKEN not in repr(inline)
    path.write_text(TARGET % "proxies: {}")
    assert toxiproxy_token_of(load_target_file(path), {"STAGING_PROXY_TOKEN": TOKEN}) is None
