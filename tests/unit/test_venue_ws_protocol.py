"""Reading WebSocket API requests: typed requests out, or a RequestError that says what is wrong."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mock_exchange.model import OrdType, Side, TimeInForce
from mock_exchange.ws.protocol import (
    AuthRequest,
    CancelRequest,
    ErrorCode,
    FillsRequest,
    PlaceRequest,
    RequestError,
    parse_request,
)

PLACE: dict[str, Any] = {
    "op": "place",
    "client_order_id": "c-1",
    "symbol": "BTC-USD",
    "side": "sell",
    "type": "limit",
    "qty": 5,
    "price": 101.5,
}


def _refusal(data: Any) -> RequestError:
    with pytest.raises(RequestError) as caught:
        parse_request(data if isinstance(data, str) else json.dumps(data))
    return caught.value


def test_a_place_request_becomes_typed_values() -> None:
    request = parse_request(json.dumps(PLACE | {"id": "r-9", "tif": "ioc", "sub_id": "oms-1"}))
    assert request == PlaceRequest(
        op="place",
        id="r-9",
        client_order_id="c-1",
        symbol="BTC-USD",
        side=Side.SELL,
        type=OrdType.LIMIT,
        qty=5,
        price=101.5,
        tif=TimeInForce.IOC,
        sub_id="oms-1",
    )


def test_defaults_day_and_no_sub_id_and_market_without_price() -> None:
    request = parse_request(json.dumps(PLACE | {"type": "market", "price": None}))
    assert isinstance(request, PlaceRequest)
    assert (request.tif, request.sub_id, request.price, request.id) == (TimeInForce.DAY, None, None, None)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"op": "auth", "account": "a", "api_key": "k", "id": 3},
            AuthRequest(op="auth", id=3, account="a", api_key="k"),
        ),
        ({"op": "cancel", "order_id": "O7"}, CancelRequest(op="cancel", order_id="O7")),
        ({"op": "fills", "symbol": "ETH-USD"}, FillsRequest(op="fills", symbol="ETH-USD")),
    ],
    ids=["auth", "cancel by order id", "fills of a symbol"],
)
def test_other_requests(data: dict[str, Any], expected: Any) -> None:
    assert parse_request(json.dumps(data)) == expected


@pytest.mark.parametrize(
    ("data", "code", "message"),
    [
        ("{", ErrorCode.BAD_JSON, "not JSON"),
        ("null", ErrorCode.BAD_JSON, "a request is a JSON object"),
        ({"op": 3}, ErrorCode.UNKNOWN_OP, "unknown op 3"),
        ({}, ErrorCode.UNKNOWN_OP, "missing op"),
        (PLACE | {"qty": 1.5}, ErrorCode.BAD_REQUEST, "qty: Input should be a valid integer"),
        (PLACE | {"qty": "5"}, ErrorCode.BAD_REQUEST, "qty: Input should be a valid integer"),
        (PLACE | {"price": "1e999"}, ErrorCode.BAD_REQUEST, "price:"),
        (PLACE | {"side": "short"}, ErrorCode.BAD_REQUEST, "side: Input should be 'buy' or 'sell'"),
        (PLACE | {"tif": "fok"}, ErrorCode.BAD_REQUEST, "tif:"),
        (
            PLACE | {"client_order_id": ""},
            ErrorCode.BAD_REQUEST,
            "client_order_id: String should have at least",
        ),
        (
            PLACE | {"client_order_id": "x" * 65},
            ErrorCode.BAD_REQUEST,
            "client_order_id: String should have at most",
        ),
        (
            {k: v for k, v in PLACE.items() if k != "price"},
            ErrorCode.BAD_REQUEST,
            "price: required for a limit",
        ),
        (PLACE | {"extra": 1}, ErrorCode.BAD_REQUEST, "extra: Extra inputs are not permitted"),
        ({"op": "cancel"}, ErrorCode.BAD_REQUEST, "give client_order_id or order_id"),
        ({"op": "auth", "account": "a"}, ErrorCode.BAD_REQUEST, "api_key: Field required"),
        (
            {"op": "ping", "id": True},
            ErrorCode.BAD_REQUEST,
            "id: Value error, must be a string or an integer",
        ),
    ],
)
def test_refusals_name_the_problem(data: Any, code: ErrorCode, message: str) -> None:
    refusal = _refusal(data)
    assert refusal.code is code
    assert message in refusal.message


def test_the_id_is_echoed_when_it_can_be_read() -> None:
    assert _refusal({"op": "fly", "id": "x"}).request_id == "x"
    assert _refusal(PLACE | {"qty": None, "id": 12}).request_id == 12
    assert _refusal({"op": "fly", "id": [1]}).request_id is None
    assert _refusal({"op": "fly", "id": False}).request_id is None
