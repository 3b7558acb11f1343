"""Request bodies decoded the way Go's ``encoding/json`` decodes them into a struct.

Toxiproxy clients rely on its decoder's habits: keys match case-insensitively, unknown keys and
``null`` values are ignored, only the first JSON value of the body is read, and a value of the
wrong type is an error naming the Go type. Error texts follow Go's wording closely enough for a
person (or a client test) to recognise them.

Like Go's decoder, and unlike Python's, it rejects ``NaN`` and ``Infinity``, and a number no field
can hold (an integer of more than 19 digits, a float beyond float64) is an :class:`OutOfRange`
that only an ignored key may carry. Nesting is limited to :data:`MAX_DEPTH`, checked before
decoding, so no body reaches the recursion limit.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

MAX_DEPTH = 32  # arrays and objects inside one another; our bodies need 3
_MAX_INT_DIGITS = 19  # int64 has 19 digits; anything longer cannot fit a field
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class DecodeError(Exception):
    """The body is not valid JSON or a value has the wrong type; ``str()`` is Go's message."""


class JsonObject(list[tuple[str, Any]]):
    """A decoded JSON object, kept as ordered pairs so duplicate keys behave like Go's decoder."""


@dataclass(frozen=True, slots=True)
class OutOfRange:
    """A JSON number too big for any field (or float64); fits no field, is shown as its literal."""

    literal: str

    def __str__(self) -> str:
        return self.literal if len(self.literal) <= 32 else f"{self.literal[:32]}..."


# Python type a struct field holds -> Go type named in error messages.
_GO_TYPE_NAMES: dict[type, str] = {str: "string", int: "int64", float: "float32", bool: "bool"}

# A JSON string (possessive: linear on any input; an unterminated one runs to the end of the text).
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")
_NESTING = {"[": 1, "{": 1, "]": -1, "}": -1}


def _int(literal: str) -> int | OutOfRange:
    if len(literal.lstrip("-")) > _MAX_INT_DIGITS:
        return OutOfRange(literal)  # never int(): Python refuses over 4300 digits
    return int(literal)


def _float(literal: str) -> float | OutOfRange:
    value = float(literal)
    return value if math.isfinite(value) else OutOfRange(literal)


def _constant(literal: str) -> Any:
    if literal.startswith("-"):
        raise DecodeError("invalid character 'I' in numeric literal")
    raise DecodeError(f"invalid character {literal[0]!r} looking for beginning of value")


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in the JSON ``text`` (outside its strings)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(_NESTING[bracket] for bracket in brackets), default=0)


def parse(raw: bytes) -> Any:
    """Parse the first JSON value of ``raw`` (trailing bytes are ignored, as Go's Decoder does)."""
    text = raw.decode("utf-8", errors="replace").lstrip(" \t\r\n")
    if not text:
        raise DecodeError("EOF")
    if nesting_depth(text) > MAX_DEPTH:
        raise DecodeError(f"exceeded max depth: JSON nested deeper than {MAX_DEPTH} levels")
    decoder = json.JSONDecoder(
        object_pairs_hook=JsonObject, parse_int=_int, parse_float=_float, parse_constant=_constant
    )
    try:
        value, _ = decoder.raw_decode(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text):
            raise DecodeError("unexpected EOF") from None
        raise DecodeError(f"invalid character {text[exc.pos]!r} looking for beginning of value") from None
    return value


def json_type_name(value: Any) -> str:
    """Go's name for the JSON kind of ``value`` ("number", "object", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, OutOfRange):
        return f"number {value}"
    if isinstance(value, int | float):
        return f"number {json.dumps(value)}" if isinstance(value, float) else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, JsonObject):
        return "object"
    return "array"


def _matches(kind: type, value: Any) -> bool:
    if kind is object:
        return True
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, kind)


def decode_struct(value: Any, fields: Mapping[str, type], struct: str) -> dict[str, Any]:
    """Decode a JSON object into ``{field: value}`` for the fields present (``object`` = any value).

    A top-level ``null`` decodes to nothing, as in Go.
    """
    if value is None:
        return {}
    if not isinstance(value, JsonObject):
        raise DecodeError(f"json: cannot unmarshal {json_type_name(value)} into Go value of type {struct}")
    by_folded_key = {name.lower(): name for name in fields}
    decoded: dict[str, Any] = {}
    for key, item in value:
        name = by_folded_key.get(key.lower())
        if name is None or item is None:
            continue
        kind = fields[name]
        if kind is int and _matches(kind, item) and not INT64_MIN <= item <= INT64_MAX:
            raise DecodeError(
                f"json: cannot unmarshal number {item} into Go struct field {struct}.{name} of type int64"
            )
        if not _matches(kind, item):
            raise DecodeError(
                f"json: cannot unmarshal {json_type_name(item)} into Go struct field "
                f"{struct}.{name} of type {_GO_TYPE_NAMES.get(kind, kind.__name__)}"
            )
        decoded[name] = float(item) if kind is float else item
    return decoded


def dumps(value: Any) -> str:
    """Compact JSON as Go's ``json.Marshal`` writes it."""
    return json.dumps(value, separators=(",", ":"))


def go_number(value: float) -> float | int:
    """A float as Go prints a float32: ``1`` not ``1.0``."""
    return int(value) if value.is_integer() else value
