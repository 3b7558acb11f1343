"""The venue admin API's optional bearer token (contracts §3): where it comes from, what it guards."""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from mock_exchange.admin import create_admin_app
from mock_exchange.cli import BadInputError, add_arguments, admin_token, exchange_config
from mock_exchange.config import VenueConfig
from mock_exchange.fault_board import FaultBoard
from mock_exchange.market_data_log import MarketDataPage

TOKEN = "run-token_4f9Qz-x"
HALT = {"symbols": ["BTC-USD"]}
GUARDED = [
    ("GET", "/ledger"),
    ("GET", "/ledger/orders"),
    ("GET", "/ledger/fills"),
    ("GET", "/ledger/market-data"),
    ("GET", "/matching"),
    ("POST", "/matching/stop"),
    ("POST", "/matching/start"),
    ("GET", "/market"),
    ("GET", "/faults"),
    ("PUT", "/faults/halt"),
    ("DELETE", "/faults/halt"),
    ("DELETE", "/faults"),
    ("GET", "/no-such-route"),
    ("POST", "/health"),
]


class FakeSource:
    """What the admin API reads, with a real fault board (so an arm that got through shows)."""

    def __init__(self) -> None:
        self.faults = FaultBoard()

        self.matching_running = True

    def ledger_snapshot(self, *, market_data: bool = True) -> dict[str, Any]:
        return {"orders": [], "fills": [], "sessions": [], "faults": [], "now_ns": 1}

    def market_data_page(self, since: int, limit: int) -> MarketDataPage:
        return MarketDataPage([], since, since, 0)

    def set_matching(self, running: bool) -> None:
        self.matching_running = running

    def order_views(self, status: str | None) -> list[dict[str, Any]]:
        return []

    def fill_views(self) -> list[dict[str, Any]]:
        return []

    def market_view(self) -> dict[str, Any]:
        return {"phase": "open", "local_time": None, "timezone": None}


Serve = Callable[[str | None], AbstractAsyncContextManager[tuple[TestClient[Any, Any], FakeSource]]]


@pytest.fixture
def serve() -> Serve:
    @asynccontextmanager
    async def serving(token: str | None) -> AsyncIterator[tuple[TestClient[Any, Any], FakeSource]]:
        source = FakeSource()
        async with TestClient(TestServer(create_admin_app(source, token=token))) as client:
            yield client, source

    return serving


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _call(client: TestClient[Any, Any], method: str, path: str,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    body = HALT if method == "PUT" else None
    async with client.request(method, path, json=body, headers=headers) as response:
        text = await response.text()
        return response.status, json.loads(text) if text else {}, response.headers.get("WWW-Authenticate", "")


async def test_without_a_token_the_api_is_open(serve: Serve) -> None:
    async with serve(None) as (client, source):
        assert (await _call(client, "GET", "/ledger"))[0] == 200
        assert (await _call(client, "PUT", "/faults/halt"))[0] == 200
        assert [fault.kind.value for fault in source.faults.active()] == ["halt"]


@pytest.mark.parametrize(("method", "path"), GUARDED)
async def test_every_route_but_health_answers_401_without_the_token(serve: Serve, method: str,
                                                                      path: str) -> None:
    async with serve(TOKEN) as (client, source):
        status, body, challenge = await _call(client, method, path)
        assert (status, challenge) == (401, "Bearer")
        assert "Authorization: Bearer" in body["error"]
        assert TOKEN not in json.dumps(body)
        assert source.faults.active() == []
        assert source.matching_running is True


@pytest.mark.parametrize("given", ["Bearer wrong", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, "Bearer ",
                                   f"Bearer {TOKEN[:-1]}"])
async def test_a_wrong_token_is_401_and_changes_nothing(serve: Serve, given: str) -> None:
    async with serve(TOKEN) as (client, source):
        status, body, challenge = await _call(client, "PUT", "/faults/halt", {"Authorization": given})
        assert (status, challenge) == (401, "Bearer")
        assert set(body) == {"error"}
        assert TOKEN not in body["error"]
        assert source.faults.active() == []


async def test_a_token_that_is_not_ascii_is_401_not_a_crash(serve: Serve) -> None:
    async with serve(TOKEN) as (client, _):
        assert (await _call(client, "GET", "/ledger", {"Authorization": "Bearer t\u00f6ken"}))[0] == 401


async def test_the_right_token_opens_every_route(serve: Serve) -> None:
    async with serve(TOKEN) as (client, source):
        ledger = FakeSource().ledger_snapshot()
        assert (await _call(client, "GET", "/ledger", _bearer(TOKEN)))[:2] == (200, ledger)
        assert (await _call(client, "PUT", "/faults/halt", _bearer(TOKEN)))[0] == 200
        assert [fault.kind.value for fault in source.faults.active()] == ["halt"]
        assert (await _call(client, "GET", "/market", {"Authorization": f"bearer {TOKEN}"}))[0] == 200
        assert (await _call(client, "DELETE", "/faults", _bearer(TOKEN)))[0] == 204
        assert source.faults.active() == []
        # past the guard, the usual errors
        assert (await _call(client, "GET", "/no-such-route", _bearer(TOKEN)))[0] == 404


async def test_health_stays_open_for_readiness_checks(serve: Serve) -> None:
    async with serve(TOKEN) as (client, _):
        assert (await _call(client, "GET", "/health"))[:2] == (200, {"status": "ok"})
        async with client.head("/health") as response:
            assert response.status == 200


# --- where the venue process takes it from ------------------------------------------------------


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def _config_file(tmp_path: Path, token: str | None = None) -> Path:
    venues = [{"name": name, "fix_port": 0, "admin_port": 0, "ledger_path": str(tmp_path / f"{name}.jsonl"),
               **({"admin_token": token} if token else {})} for name in ("a", "b")]
    path = tmp_path / "venues.json"
    path.write_text(json.dumps({"venues": venues}))
    return path


def _secret_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "token"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_no_token_anywhere_leaves_each_venue_open(tmp_path: Path) -> None:
    config = exchange_config(_args("--config", str(_config_file(tmp_path))), {})
    assert [venue.admin_token for venue in config.venues] == [None, None]


def test_the_config_token_stands_unless_the_environment_or_a_file_gives_one(tmp_path: Path) -> None:
    args = _args("--config", str(_config_file(tmp_path, token="from-config")))
    assert {venue.admin_token for venue in exchange_config(args, {}).venues} == {"from-config"}
    from_env = exchange_config(args, {"MOCKEX_ADMIN_TOKEN": "env"})
    assert {venue.admin_token for venue in from_env.venues} == {"env"}
    path = _secret_file(tmp_path, " from-file\n")
    with_file = _args("--config", str(_config_file(tmp_path)), "--admin-token-file", str(path))
    chosen = exchange_config(with_file, {"MOCKEX_ADMIN_TOKEN": "env"})
    assert [venue.admin_token for venue in chosen.venues] == ["from-file", "from-file"]


def test_the_flags_venue_takes_the_token_too(tmp_path: Path) -> None:
    args = _args("--client-comp-id", "OMS", "--ledger", str(tmp_path / "l.jsonl"))
    assert exchange_config(args, {"MOCKEX_ADMIN_TOKEN": TOKEN}).venues[0].admin_token == TOKEN


@pytest.mark.parametrize(("content", "message"), [("", "is empty"), ("  \n", "is empty"),
                                                   ("x" * 5000, "more than 4096 bytes")])
def test_an_unusable_token_file_is_bad_input(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        admin_token(_secret_file(tmp_path, content), {})


def test_a_missing_token_file_or_an_empty_variable_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="cannot read --admin-token-file"):
        admin_token(tmp_path / "absent", {})
    with pytest.raises(BadInputError, match="MOCKEX_ADMIN_TOKEN is set but empty"):
        admin_token(None, {"MOCKEX_ADMIN_TOKEN": ""})


def test_a_token_with_a_space_is_refused_without_echoing_it(tmp_path: Path) -> None:
    args = _args("--config", str(_config_file(tmp_path)))
    with pytest.raises(BadInputError) as refused:
        exchange_config(args, {"MOCKEX_ADMIN_TOKEN": "two words"})
    assert "admin_token" in str(refused.value)
    assert "two words" not in str(refused.value)


def test_a_token_file_others_can_read_is_used_with_a_warning(tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    assert admin_token(_secret_file(tmp_path, TOKEN, mode=0o644), {}) == TOKEN
    assert "readable by more than its owner (mode 644)" in caplog.text
    assert TOKEN not in caplog.text


def test_the_token_stays_out_of_the_config_repr(tmp_path: Path) -> None:
    config = VenueConfig(fix_port=0, admin_port=0, ledger_path=tmp_path / "l.jsonl", admin_token=TOKEN)
    assert TOKEN not in repr(config)
    assert json.loads(config.model_dump_json())["admin_token"] == TOKEN  # the config file still holds it
