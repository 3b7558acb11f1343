"""What a feed's client may ask (contracts §10): ``subscribe`` and ``snapshot``, each with optional
``symbols``. Anything else is a :class:`RequestError` whose text the feed sends back in an
``error`` frame; the connection stays.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

MAX_REQUEST_SYMBOLS = 1_000
MAX_NAMED = 5
_MAX_QUOTED = 80


class Op(StrEnum):
    SUBSCRIBE = "subscribe"
    SNAPSHOT = "snapshot"


class RequestError(ValueError):
    """A frame the feed cannot act on; the message says why (sent back as it is)."""


@dataclass(frozen=True, slots=True)
class FeedRequest:
    op: Op
    symbols: frozenset[str]
    """the symbols asked for (every symbol when the request named none)"""


def parse_request(text: str, known: Collection[str]) -> FeedRequest:
    """The request in ``text`` (a JSON object); ``known``: the feed's symbols."""
    try:
        body = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise RequestError("bad JSON: nested too deep") from None
    except ValueError as error:
        raise RequestError(f"bad JSON: {_quoted(str(error))}") from None
    if not isinstance(body, dict):
        raise RequestError(f"a request is a JSON object with an op, not {type(body).__name__}")
    op = body.get("op")
    if not isinstance(op, str) or op not in Op.__members__.values():
        known_ops = ", ".join(member.value for member in Op)
        raise RequestError(f"unknown op {_quoted(repr(op))}; known: {known_ops}")
    return FeedRequest(Op(op), _symbols(body.get("symbols"), known))


def _symbols(value: Any, known: Collection[str]) -> frozenset[str]:
    if value is None or value == []:
        return frozenset(known)
    if not isinstance(value, list) or not all(isinstance(symbol, str) for symbol in value):
        raise RequestError("symbols: expected a list of symbol names")
    if len(value) > MAX_REQUEST_SYMBOLS:
        raise RequestError(f"symbols: at most {MAX_REQUEST_SYMBOLS} symbols")
    unknown = sorted({symbol for symbol in value if symbol not in known})
    if unknown:
        named = ", ".join(_quoted(repr(symbol)) for symbol in unknown[:MAX_NAMED])
        more = f" and {len(unknown) - MAX_NAMED} more" if len(unknown) > MAX_NAMED else ""
        raise RequestError(f"symbols: unknown symbol(s) {named}{more}; known: {', '.join(sorted(known))}")
    return frozenset(value)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _quoted(text: str) -> str:
    return text if len(text) <= _MAX_QUOTED else f"{text[:_MAX_QUOTED]}... ({len(text)} chars)"
