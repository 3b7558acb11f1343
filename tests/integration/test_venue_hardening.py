"""Nothing a request sends in crashes, hangs, leaks or corrupts the venue (issue 15), end to end:
the admin API, FIX order entry and logons, the WebSocket API, and a ledger read back by the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mock_exchange.config import VenueConfig
from mock_exchange.venue import Venue
from tests.integration.exchange_helpers import MOCK_EXCHANGE
from tests.integration.venue_helpers import (
    FieldValue,
    FixTestClient,
    call_json,
    field,
    utc_timestamp,
    venue_config,
    wait_until,
)
from tests.integration.ws_helpers import ws_client, ws_venue_config

pytestmark = pytest.mark.integration

BTC_PATH = "/faults/price_path"
HEAL = '{"kind":"fault","t_ns":1,"fault":"halt","action":"heal","params":null}'


@pytest.fixture
def venue_settings(tmp_path: Path) -> VenueConfig:
    return ws_venue_config(tmp_path, max_order_qty=1_000, max_price=1e6)


def strict_json(text: str) -> Any:
    """``text`` read as JSON with no NaN or Infinity (what every other JSON reader insists on)."""

    def refuse(name: str) -> float:
        raise AssertionError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


async def raw_call(port: int, method: str, path: str, body: bytes) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{port}{path}"
    async with aiohttp.ClientSession() as http, http.request(method, url, data=body) as response:
        return response.status, strict_json(await response.text())


# -- item 1: a price path beyond floats ----------------------------------------------------------


async def test_a_price_path_beyond_the_bounds_is_a_400_and_matching_goes_on(
    venue: Venue, caplog: pytest.LogCaptureFixture
) -> None:
    params = {"symbol": "BTC-USD", "move_pct": 1e308, "over_s": 0}
    with caplog.at_level(logging.ERROR, logger="mock_exchange"):
        status, answer = await call_json(venue.admin_port, "PUT", BTC_PATH, params)
        assert status == 400
        assert answer["error"].startswith("price_path: move_pct: ")
        await asyncio.sleep(0.2)  # twenty matching steps
        assert await call_json(venue.admin_port, "GET", "/faults") == (200, {"faults": []})
        assert (await call_json(venue.admin_port, "DELETE", "/faults"))[0] == 204
    assert [record.getMessage() for record in caplog.records] == []
    assert 0 < venue.engine.prices["BTC-USD"].quote.ask < 1e6


async def test_healing_answers_204_even_when_the_engine_fails_to_release_a_path(
    venue: Venue, monkeypatch: pytest.MonkeyPatch
) -> None:
    await call_json(venue.admin_port, "PUT", BTC_PATH, {"symbol": "BTC-USD", "move_pct": -4, "over_s": 3})

    def broken_release(self: object) -> None:
        raise OverflowError("cannot convert float infinity to integer")

    monkeypatch.setattr(type(venue.engine.prices["BTC-USD"]), "release", broken_release)
    assert await call_json(venue.admin_port, "DELETE", "/faults") == (204, None)
    assert await call_json(venue.admin_port, "GET", "/faults") == (200, {"faults": []})


async def test_a_step_that_keeps_failing_logs_one_traceback_not_one_a_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async with Venue(venue_config(tmp_path)) as venue:

        def failing_step() -> list[object]:
            raise OverflowError("cannot convert float infinity to integer")

        with caplog.at_level(logging.ERROR, logger="mock_exchange"):
            monkeypatch.setattr(venue.engine, "step", failing_step)
            await asyncio.sleep(0.3)  # thirty steps at 10 ms
    failures = [record for record in caplog.records if "matching step" in record.getMessage()]
    assert 1 <= len(failures) <= 2
    assert sum(1 for record in failures if record.exc_info) == 1


# -- item 6: the admin API answers 4xx with a JSON error, never 500 ------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("PUT", BTC_PATH, b"{not json", 400),
        ("PUT", BTC_PATH, b"[" * 50_000 + b"]" * 50_000, 413),
        ("PUT", BTC_PATH, b"[" * 30_000 + b"]" * 30_000, 400),
        ("PUT", BTC_PATH, b'{"symbol": "BTC-USD", "move_pct": NaN, "over_s": 0}', 400),
        ("PUT", BTC_PATH, b'{"symbol": "BTC-USD", "move_pct": 1e999, "over_s": 0}', 400),
        ("PUT", BTC_PATH, b'{"symbol": ["BTC-USD"], "move_pct": "x", "over_s": {}}', 400),
        ("PUT", BTC_PATH, b"\xff\xfe", 400),
        ("PUT", "/faults/execution_reports", b'{"mode": "delay", "delay_s": 1e308}', 400),
        ("PUT", "/faults/reject_new_orders", json.dumps({"reason": "x" * 100_000}).encode(), 413),
        ("PUT", "/faults/no_such_kind", b"{}", 404),
        ("DELETE", "/faults/no_such_kind", b"", 404),
        ("GET", "/no/such/route", b"", 404),
        ("POST", "/faults", b"{}", 405),
        ("GET", "/faults?x=1", b"", 400),
    ],
)
async def test_bad_admin_requests_are_4xx_with_a_json_error(
    venue: Venue, method: str, path: str, body: bytes, status: int
) -> None:
    answer_status, answer = await raw_call(venue.admin_port, method, path, body)
    assert (answer_status, sorted(answer)) == (status, ["error"])
    assert len(answer["error"]) <= 1_100
    assert await call_json(venue.admin_port, "GET", "/faults") == (200, {"faults": []})


# -- item 2: quantities and prices within bounds --------------------------------------------------


async def test_fix_quantities_and_prices_beyond_the_bounds_are_rejected(venue: Venue) -> None:
    client = await FixTestClient.connect(venue.fix_port, "OMS-A")
    await client.logon()
    client.new_order("huge-1", qty=10**23)
    reject = await client.expect("3")
    assert (field(reject, 373), field(reject, 371)) == ("5", "38")
    client.new_order("big-2", qty=1_001)
    price = "1" + "0" * 300  # 1e300, as FIX writes a price: no exponent
    fields: list[tuple[int, FieldValue]] = [(11, "dear-3"), (55, "BTC-USD"), (54, 1), (38, 1), (40, 2)]
    client.send("D", [*fields, (44, price), (60, utc_timestamp())])
    texts = [field(await client.expect("8"), 58) for _ in range(2)]
    assert texts == [
        "OrderQty above the venue's maximum of 1000 lots",
        "Price above the venue's maximum of 1e+06",
    ]
    assert {order.status.value for order in venue.ledger.orders.values()} == {"rejected"}
    await client.close()


async def test_websocket_quantities_beyond_the_bounds_are_refused(venue: Venue) -> None:
    async with ws_client(venue) as client:
        order: dict[str, Any] = {"symbol": "BTC-USD", "side": "buy", "type": "market"}
        huge = await client.request("place", client_order_id="w-1", qty=10**30, **order)
        assert (huge["type"], huge["code"]) == ("error", "bad_request")
        assert huge["message"].startswith("qty: ")
        big = await client.request("place", client_order_id="w-2", qty=1_001, **order)
        assert (big["order"]["status"], big["order"]["text"]) == (
            "rejected", "OrderQty above the venue's maximum of 1000 lots"
        )
        await client.ws.send_str('{"op": "place", "id": 9, "client_order_id": "w-3", "symbol": "BTC-USD", '
                                 '"side": "buy", "type": "limit", "qty": 1, "price": Infinity}')
        infinite = await client.answer(9)
        assert (infinite["code"], infinite["message"].split(":")[0]) == ("bad_request", "price")
    strict_json("[" + ",".join(venue.config.ledger_path.read_text().splitlines()) + "]")


# -- item 3: refused logons in the ledger --------------------------------------------------------


async def test_a_flood_of_refused_logons_writes_a_few_short_ledger_lines(venue: Venue) -> None:
    comp_id = "X" * 20_000
    for _ in range(20):
        client = await FixTestClient.connect(venue.fix_port, comp_id)
        client.send("A", [(98, 0), (108, 30)])
        assert await client.expect_closed() == []
        await client.close()
    lines = [strict_json(line) for line in venue.config.ledger_path.read_text().splitlines()]
    refused = [line for line in lines if line["event"] == "logon_refused"]
    assert 1 <= len(refused) <= 10  # 5 a second from one peer
    assert all(len(line["sender_comp_id"]) < 100 and len(line["text"]) < 250 for line in refused)
    assert venue.config.ledger_path.stat().st_size < 5_000  # was 20 x 40 KB


# -- item 4: the queue behind a sequence gap ----------------------------------------------------


async def test_too_many_bytes_behind_a_gap_log_the_session_out(venue: Venue) -> None:
    client = await FixTestClient.connect(venue.fix_port, "OMS-A")
    await client.logon()
    text = "x" * 50_000
    for seq in range(3, 1_003):  # 1,000 x 50 KB behind the gap at 2
        client.send("0", [(112, text)], seq=seq)
    with contextlib.suppress(ConnectionError):  # the venue closes with our bytes unread: a reset
        await client.expect_closed(timeout_s=30)
    await client.close()
    await wait_until(lambda: not venue.ledger.sessions["OMS-A"].connected)
    events = [strict_json(line) for line in venue.config.ledger_path.read_text().splitlines()]
    logouts = [event["text"] for event in events if event.get("event") == "logout"]
    assert logouts == ["more than 33554432 bytes of messages behind a sequence gap"]


# -- item 5: a corrupt ledger read back by the CLI -------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        '{"kind":"order"}',
        "[]",
        "42",
        '{"kind":"fill","t_ns":1,"order_id":"O9","exec_id":"E1","qty":1,"price":1.0}',
        '{"kind":"fill","t_ns":1,"order_id":"O9","exec_id":"E1","qty":1,"price":Infinity}',
    ],
    ids=["order without fields", "array", "number", "fill of no order", "infinite price"],
)
def test_a_corrupt_ledger_is_one_line_naming_file_and_line_and_exit_2(tmp_path: Path, line: str) -> None:
    ledger = tmp_path / "desk.jsonl"
    ledger.write_text(f"{HEAL}\n{line}\n")
    flags = ["--fix-port", "0", "--admin-port", "0", "--client-comp-id", "CLIENT", "--ledger", str(ledger)]
    result = subprocess.run([*MOCK_EXCHANGE, *flags], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    (message,) = [text for text in result.stderr.splitlines() if "error" in text]
    assert message.startswith(f"exchange: error: cannot start: {ledger}:2: ")
    assert "Traceback" not in result.stderr
