"""What the venue's WebSocket API sends, read into value objects (docs/contracts.md §7).

Every reader raises :class:`FrameError` (a ``ValueError``) on a frame it cannot use, so one
malformed frame costs that frame, never the connection or the process.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from .model import Side, Status

Frame = dict[str, Any]
E = TypeVar("E", bound=StrEnum)


class FrameError(ValueError):
    """A frame from the venue is not what the API promises."""


class ExecType(StrEnum):
    NEW = "new"
    TRADE = "trade"
    CANCELED = "canceled"
    REJECTED = "rejected"
    REPLACED = "replaced"
    EXPIRED = "expired"


@dataclass(frozen=True)
class VenueOrder:
    """An Order of the venue: ``order_id`` is the venue's id, ``client_order_id`` the OMS's."""

    order_id: str
    client_order_id: str
    sub_id: str
    symbol: str
    side: Side
    type: str
    tif: str
    price: float | None
    qty: int
    cum_qty: int
    status: Status
    text: str | None

    @classmethod
    def read(cls, data: Any) -> VenueOrder:
        frame = _object(data, "order")
        price = frame.get("price")
        return cls(
            order_id=_text(frame, "order_id"),
            client_order_id=_text(frame, "client_order_id"),
            sub_id=_text(frame, "sub_id"),
            symbol=_text(frame, "symbol"),
            side=_enum(Side, frame, "side"),
            type=_text(frame, "type"),
            tif=_text(frame, "tif"),
            price=None if price is None else _number(frame, "price"),
            qty=_integer(frame, "qty"),
            cum_qty=_integer(frame, "cum_qty"),
            status=_enum(Status, frame, "status"),
            text=frame.get("text") if isinstance(frame.get("text"), str) else None,
        )


@dataclass(frozen=True)
class Execution:
    """An execution event: one change of one of the account's orders."""

    seq: int
    exec_type: ExecType
    exec_id: str
    last_qty: int
    last_px: float
    order: VenueOrder

    @classmethod
    def read(cls, data: Any) -> Execution:
        frame = _object(data, "execution")
        exec_type = _enum(ExecType, frame, "exec_type")
        trade = exec_type is ExecType.TRADE
        return cls(
            seq=_integer(frame, "seq"),
            exec_type=exec_type,
            exec_id=_text(frame, "exec_id"),
            last_qty=_integer(frame, "last_qty") if trade else 0,
            last_px=_number(frame, "last_px") if trade else 0.0,
            order=VenueOrder.read(frame.get("order")),
        )


@dataclass(frozen=True)
class VenueFill:
    """A fill of the account as the ``fills`` query lists it (``t_ns``: the venue's monotonic clock)."""

    exec_id: str
    order_id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: int
    price: float
    t_ns: int

    @classmethod
    def read(cls, data: Any) -> VenueFill:
        frame = _object(data, "fill")
        return cls(
            exec_id=_text(frame, "exec_id"),
            order_id=_text(frame, "order_id"),
            client_order_id=_text(frame, "client_order_id"),
            symbol=_text(frame, "symbol"),
            side=_enum(Side, frame, "side"),
            qty=_integer(frame, "qty"),
            price=_number(frame, "price"),
            t_ns=_integer(frame, "t_ns"),
        )


def read_list(answer: Frame, key: str) -> list[Any]:
    """The list ``answer[key]`` of a query's result."""
    items = answer.get(key)
    if not isinstance(items, list):
        raise FrameError(f"{key}: expected a list in the answer")
    return items


def _object(data: Any, what: str) -> Frame:
    if not isinstance(data, dict):
        raise FrameError(f"{what}: expected a JSON object, got {type(data).__name__}")
    return data


def _text(frame: Frame, key: str) -> str:
    value = frame.get(key)
    if not isinstance(value, str) or not value:
        raise FrameError(f"{key}: expected a non-empty string, got {value!r}")
    return value


def _integer(frame: Frame, key: str) -> int:
    value = frame.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise FrameError(f"{key}: expected an integer, got {value!r}")
    return value


def _number(frame: Frame, key: str) -> float:
    value = frame.get(key)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise FrameError(f"{key}: expected a number, got {value!r}")
    return float(value)


def _enum(kind: type[E], frame: Frame, key: str) -> E:
    value: Any = frame.get(key)
    try:
        return kind(value)
    except (ValueError, TypeError):
        raise FrameError(f"{key}: unexpected value {value!r}") from None
