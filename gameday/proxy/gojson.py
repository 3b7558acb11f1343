"""Request bodies decoded the way Go's ``encoding/json`` decodes them into a struct.

Toxiproxy clients rely on its decoder's habits: keys match case-insensitively, unknown keys and
``null`` values are ignored, only the first JSON value of the body is read, and a value of the
wrong type is an error naming the Go type. Error texts follow Go's wording closely enough for a
person (or a client test) to recognise them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class DecodeError(Exception):
    """The body is not valid JSON or a value has the wrong type; ``str()`` is Go's message."""


class JsonObject(list[tuple[str, Any]]):
    """A decoded JSON object, kept as ordered pairs so duplicate keys behave like Go's decoder."""


# Python type a struct field holds -> Go type named in error messages.
_GO_TYPE_NAMES: dict[type, str] = {str: "string", int: "int64", float: "float32", bool: "bool"}


def parse(raw: bytes) -> Any:
    """Parse the first JSON value of ``raw`` (trailing bytes are ignored, as Go's Decoder does)."""
    text = raw.decode("utf-8", errors="replace").lstrip(" \t\r\n")
    if not text:
        raise DecodeError("EOF")
    try:
        value, _ = json.JSONDecoder(object_pairs_hook=JsonObject).raw_decode(text)
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
