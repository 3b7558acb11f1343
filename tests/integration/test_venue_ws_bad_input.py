"""Bad WebSocket input gets an error frame, keeps the connection, and never touches the ledger."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from mock_exchange.config import VenueConfig
from mock_exchange.venue import Venue
from tests.integration.ws_helpers import WsTestClient, ws_client, ws_venue_config

pytestmark = pytest.mark.integration

PLACE = '"op":"place","client_order_id":"x-1","symbol":"BTC-USD","side":"buy","type":"limit","qty":1'
BAD_FRAMES = {
    "not json": ("{op: place", "bad_json", None),
    "not an object": ("[1, 2]", "bad_json", None),
    "unknown op": ('{"op": "fly", "id": 7}', "unknown_op", 7),
    "missing op": ('{"id": "r-1"}', "unknown_op", "r-1"),
    "op not a string": ('{"op": ["place"], "id": 2}', "unknown_op", 2),
    "missing fields": ('{"op": "place", "id": 3, "symbol": "BTC-USD"}', "bad_request", 3),
    "qty not an integer": (f'{{{PLACE[:-1]}"ten","price":1,"id":4}}', "bad_request", 4),
    "qty a boolean": (f'{{{PLACE[:-1]}true,"price":1,"id":5}}', "bad_request", 5),
    "price not finite": (f'{{{PLACE},"price":NaN,"id":6}}', "bad_request", 6),
    "limit without price": (f'{{{PLACE},"id":8}}', "bad_request", 8),
    "unknown side": (f'{{{PLACE.replace("buy", "hold")},"price":1,"id":9}}', "bad_request", 9),
    "unknown field": (f'{{{PLACE},"price":1,"leverage":100,"id":10}}', "bad_request", 10),
    "cancel without ids": ('{"op": "cancel", "id": 11}', "bad_request", 11),
    "id an object": (f'{{{PLACE},"price":1,"id":{{"a":1}}}}', "bad_request", None),
}


@pytest.fixture
def venue_settings(tmp_path: Path) -> VenueConfig:
    return ws_venue_config(tmp_path)


@pytest.fixture
async def client(venue: Venue) -> AsyncIterator[WsTestClient]:
    async with ws_client(venue) as connected:
        yield connected


@pytest.mark.parametrize("case", BAD_FRAMES, ids=list(BAD_FRAMES))
async def test_a_bad_frame_gets_an_error_frame_and_the_connection_stays(
    venue: Venue, client: WsTestClient, case: str
) -> None:
    text, code, request_id = BAD_FRAMES[case]
    ledger_before = venue.config.ledger_path.read_bytes()
    await client.ws.send_str(text)
    error = await client.answer()
    assert (error["type"], error["code"], error["id"]) == ("error", code, request_id)
    assert error["message"]
    assert (await client.request("ping"))["type"] == "result"
    assert venue.config.ledger_path.read_bytes() == ledger_before
    assert not venue.ledger.orders


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f'{{{PLACE[:-1]}"ten","price":1}}', "qty: Input should be a valid integer"),
        (f"{{{PLACE}}}", "price: required for a limit order"),
        ('{"op": "place"}', "client_order_id: Field required"),
        ('{"op": "fly"}', "unknown op 'fly'; one of: auth, place, cancel, open_orders, fills, ping"),
    ],
    ids=["qty", "price", "first missing field", "unknown op"],
)
async def test_the_error_message_names_the_field(client: WsTestClient, text: str, message: str) -> None:
    await client.ws.send_str(text)
    assert message in (await client.answer())["message"]


async def test_a_binary_frame_is_refused(client: WsTestClient) -> None:
    await client.ws.send_bytes(b'{"op": "ping"}')
    error = await client.answer()
    assert (error["code"], error["message"]) == ("bad_json", "binary frames are not read: send JSON text")
    assert (await client.request("ping"))["op"] == "ping"


async def test_orders_before_auth_are_refused_outside_the_ledger(venue: Venue) -> None:
    assert venue.ws_port is not None
    ledger_before = venue.config.ledger_path.read_bytes()
    async with WsTestClient.connect(venue.ws_port) as client:
        await client.ws.send_str(f'{{{PLACE},"price":1,"id":1}}')
        refused = await client.answer(1)
        assert refused["code"] == "not_authenticated"
        assert (await client.request("ping"))["type"] == "result"
    assert venue.config.ledger_path.read_bytes() == ledger_before


async def test_an_oversized_frame_closes_only_that_connection(venue: Venue, client: WsTestClient) -> None:
    assert venue.ws_port is not None
    await client.ws.send_str(json.dumps({"op": "ping", "pad": "x" * 100_000}))
    message = await client.ws.receive()
    assert message.type is aiohttp.WSMsgType.CLOSE
    assert message.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    async with WsTestClient.connect(venue.ws_port) as again:
        assert (await again.auth("desk-a", "key-a"))["type"] == "result"


async def test_a_plain_http_request_gets_400(venue: Venue) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{venue.ws_port}/") as response:
        assert response.status == 400
        assert "Upgrade" in (await response.json())["error"]
