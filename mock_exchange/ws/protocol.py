"""Requests of the WebSocket JSON API and the one function that reads them from a text frame.

A request is a JSON object with an ``op`` and, optionally, an ``id`` (a string or an integer)
that the answer echoes. Anything else is refused with a :class:`RequestError` naming what was
wrong; the gateway turns it into an error frame and keeps the connection.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from mock_exchange.config import MAX_SAFE_LOTS
from mock_exchange.model import OrdType, Side, TimeInForce

MAX_ID_LENGTH = 64


class Op(StrEnum):
    AUTH = "auth"
    PLACE = "place"
    CANCEL = "cancel"
    OPEN_ORDERS = "open_orders"
    FILLS = "fills"
    PING = "ping"


class ErrorCode(StrEnum):
    BAD_JSON = "bad_json"
    UNKNOWN_OP = "unknown_op"
    BAD_REQUEST = "bad_request"
    NOT_AUTHENTICATED = "not_authenticated"
    ALREADY_AUTHENTICATED = "already_authenticated"
    AUTH_FAILED = "auth_failed"
    SESSION_IN_USE = "session_in_use"
    RECONNECT_COOLDOWN = "reconnect_cooldown"
    DUPLICATE_CLIENT_ORDER_ID = "duplicate_client_order_id"
    UNKNOWN_ORDER = "unknown_order"
    TOO_LATE_TO_CANCEL = "too_late_to_cancel"
    CANCEL_REJECTED = "cancel_rejected"
    INTERNAL = "internal_error"


RequestId = StrictStr | StrictInt
Identifier = Annotated[StrictStr, Field(min_length=1, max_length=MAX_ID_LENGTH)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: RequestId | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _scalar_id(cls, value: Any) -> Any:
        if value is None or _is_request_id(value):
            return value
        raise ValueError("must be a string or an integer")


class AuthRequest(_Request):
    op: Literal[Op.AUTH]
    account: Identifier
    api_key: Annotated[StrictStr, Field(min_length=1)]


class PlaceRequest(_Request):
    op: Literal[Op.PLACE]
    client_order_id: Identifier
    symbol: Identifier
    side: Side
    type: OrdType
    qty: Annotated[StrictInt, Field(ge=-MAX_SAFE_LOTS, le=MAX_SAFE_LOTS)]
    """beyond the venue's ``max_order_qty`` (or not positive): a rejected order, as over FIX"""
    price: float | None = Field(default=None, allow_inf_nan=False)
    tif: TimeInForce = TimeInForce.DAY
    sub_id: Identifier | None = None  # the instance that sent it; default: the account


class CancelRequest(_Request):
    op: Literal[Op.CANCEL]
    client_order_id: Identifier | None = None
    order_id: Identifier | None = None


class OpenOrdersRequest(_Request):
    op: Literal[Op.OPEN_ORDERS]
    symbol: Identifier | None = None


class FillsRequest(_Request):
    op: Literal[Op.FILLS]
    symbol: Identifier | None = None


class PingRequest(_Request):
    op: Literal[Op.PING]


Request = AuthRequest | PlaceRequest | CancelRequest | OpenOrdersRequest | FillsRequest | PingRequest
_OPS = frozenset(op.value for op in Op)
_REQUESTS: TypeAdapter[Request] = TypeAdapter(Annotated[Request, Field(discriminator="op")])


class RequestError(Exception):
    """A request the gateway refuses; ``request_id`` is echoed when it could be read."""

    def __init__(self, code: ErrorCode, message: str, request_id: RequestId | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


def parse_request(text: str) -> Request:
    """The request in one text frame, or :class:`RequestError`."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise RequestError(ErrorCode.BAD_JSON, f"not JSON: {error}") from None
    except RecursionError:
        raise RequestError(ErrorCode.BAD_JSON, "not JSON the venue reads: nested too deep") from None
    if not isinstance(data, dict):
        raise RequestError(ErrorCode.BAD_JSON, "a request is a JSON object")
    request_id = _request_id(data)
    op = data.get("op")
    if not (isinstance(op, str) and op in _OPS):
        known = ", ".join(Op)
        what = "missing op" if op is None else f"unknown op {_shortened(repr(op))}"
        raise RequestError(ErrorCode.UNKNOWN_OP, f"{what}; one of: {known}", request_id)
    try:
        request = _REQUESTS.validate_python(data)
    except ValidationError as error:
        raise RequestError(ErrorCode.BAD_REQUEST, _describe(error, op), request_id) from None
    _check_fields(request)
    return request


def _check_fields(request: Request) -> None:
    if isinstance(request, PlaceRequest) and request.type is OrdType.LIMIT and request.price is None:
        raise RequestError(ErrorCode.BAD_REQUEST, "price: required for a limit order", request.id)
    if isinstance(request, CancelRequest) and not (request.client_order_id or request.order_id):
        raise RequestError(ErrorCode.BAD_REQUEST, "give client_order_id or order_id", request.id)


def _request_id(data: dict[str, Any]) -> RequestId | None:
    value = data.get("id")
    return value if _is_request_id(value) else None


def _is_request_id(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)


MAX_PROBLEMS_NAMED = 5
_MAX_QUOTED = 80


def _describe(error: ValidationError, op: str) -> str:
    """The first few problems, each naming its field (a name the request made up is shortened)."""
    items = error.errors()
    problems = []
    for item in items[:MAX_PROBLEMS_NAMED]:
        location = [_shortened(str(part)) for part in item["loc"]]
        if location and location[0] == op:
            location = location[1:]
        problems.append(f"{'.'.join(location) or 'request'}: {item['msg']}")
    if len(items) > MAX_PROBLEMS_NAMED:
        problems.append(f"and {len(items) - MAX_PROBLEMS_NAMED} more")
    return "; ".join(problems)


def _shortened(text: str) -> str:
    return text if len(text) <= _MAX_QUOTED else f"{text[:_MAX_QUOTED]}... ({len(text)} chars)"
