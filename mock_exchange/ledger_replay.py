"""Reading a ledger file back (a venue restarted on it): every line checked before it is applied.

A line is one event: a JSON object with a ``kind`` and, for the kinds the venue writes, the
fields of that kind with the types it writes them with, finite numbers only. A line that is not
(``[]``, ``42``, ``{"kind":"order"}``, a fill of an order never seen) makes the whole file
unreadable: :class:`LedgerCorruptError` names the file and the line, and the venue does not
start on it (``python -m mock_exchange`` says so in one line and exits 2). A last line cut short
by a crash mid-write is dropped instead; a kind the venue does not know is skipped.

Errors::

    LedgerError                 the ledger cannot be used
    └── LedgerCorruptError      a line of the file cannot be read back
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Event = dict[str, Any]


class LedgerError(Exception):
    """Base of ledger errors."""


class LedgerCorruptError(LedgerError):
    """A line of the ledger file cannot be read back (the message names the file and line)."""


class _BadEventError(ValueError):
    """A JSON line that is not an event the venue wrote."""


_STR = (str,)
_OPTIONAL_STR = (str, type(None))
_NUMBER = (int, float)
_OPTIONAL_NUMBER = (int, float, type(None))
_INT = (int,)
_OPTIONAL_OBJECT = (dict, type(None))
# the fields each kind of line must have, and the JSON types the venue writes them with
EVENT_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "order": {
        "t_ns": _INT, "order_id": _STR, "cl_ord_id": _STR, "sender_comp_id": _STR,
        "sender_sub_id": _OPTIONAL_STR, "instance": _STR, "symbol": _STR, "side": _STR,
        "ord_type": _STR, "tif": _STR, "price": _OPTIONAL_NUMBER, "qty": _INT, "status": _STR,
        "exec_id": _STR, "text": _OPTIONAL_STR,
    },
    "fill": {"t_ns": _INT, "order_id": _STR, "exec_id": _STR, "qty": _INT, "price": _NUMBER},
    "cancel": {"t_ns": _INT, "order_id": _STR, "exec_id": _STR, "text": _OPTIONAL_STR},
    "replace": {
        "t_ns": _INT, "order_id": _STR, "exec_id": _STR, "cl_ord_id": _STR, "qty": _INT,
        "price": _OPTIONAL_NUMBER,
    },
    "fault": {"t_ns": _INT, "fault": _STR, "action": _STR, "params": _OPTIONAL_OBJECT},
    "status": {"t_ns": _INT, "symbol": _STR, "state": _STR, "text": _STR},
    "session": {"t_ns": _INT, "sender_comp_id": _STR, "event": _STR, "in_seq": _INT, "out_seq": _INT},
    "ban": {"t_ns": _INT, "sender_comp_id": _STR, "ban_s": _NUMBER, "until_ns": _INT, "text": _STR},
    "md": {
        "t_ns": _INT, "feed": _STR, "symbol": _STR, "seq_first": _INT, "seq_last": _INT, "updates": _INT,
        "dropped": _INT, "bid": _NUMBER, "ask": _NUMBER, "last": _NUMBER,
    },
    "price": {"t_ns": _INT, "symbol": _STR, "bid": _NUMBER, "ask": _NUMBER, "mid": _NUMBER},
}
_JSON_TYPES = {str: "a string", int: "an integer", float: "a number", dict: "an object", type(None): "null"}
_MAX_QUOTED = 64


def read_event(line: bytes) -> Event:
    """The event of one line; ``ValueError`` (a ``json.JSONDecodeError`` when it is not JSON at all)."""
    event = json.loads(line, parse_constant=_refuse_constant, parse_float=_finite_float)
    if not isinstance(event, dict):
        raise _BadEventError(f"not a ledger event: a JSON object is expected, not {type(event).__name__}")
    kind = event.get("kind")
    if not isinstance(kind, str):
        raise _BadEventError("not a ledger event: no \"kind\" string")
    for name, types in EVENT_FIELDS.get(kind, {}).items():
        if name not in event:
            raise _BadEventError(f"{_quoted(kind)} event without {name!r}")
        value = event[name]
        if not isinstance(value, types) or isinstance(value, bool):
            expected = " or ".join(_JSON_TYPES[kind_of] for kind_of in types)
            raise _BadEventError(f"{_quoted(kind)} event: {name!r} must be {expected}")
    return event


def replay(path: Path, apply: Callable[[Event], None]) -> None:
    """Apply every event of the file at ``path`` in order (creating its folder when it is new)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        return
    data = path.read_bytes()
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    for number, line in enumerate(lines, start=1):
        if line.strip():
            _apply_line(apply, line, f"{path}:{number}")
    if tail.strip():
        _recover_tail(path, apply, tail, len(lines) + 1, good_length=len(data) - len(tail))


def _apply_line(apply: Callable[[Event], None], line: bytes, where: str) -> None:
    try:
        event = read_event(line)
    except ValueError as error:
        reason = f"unreadable line: {error}" if isinstance(error, json.JSONDecodeError) else str(error)
        raise LedgerCorruptError(f"{where}: {reason}") from None
    _apply_event(apply, event, where)


def _apply_event(apply: Callable[[Event], None], event: Event, where: str) -> None:
    try:
        apply(event)
    except KeyError as error:
        missing = error.args[0] if error.args else "?"
        what = "order_id" if missing == event.get("order_id") else "field"
        raise LedgerCorruptError(
            f"{where}: {event['kind']} event of an unknown {what} {_quoted(str(missing))}"
        ) from None
    except (ValueError, TypeError, AttributeError, ArithmeticError) as error:
        raise LedgerCorruptError(f"{where}: {event['kind']} event cannot be applied: {error}") from None


def _recover_tail(
    path: Path, apply: Callable[[Event], None], tail: bytes, number: int, *, good_length: int
) -> None:
    """A last line without newline: kept if complete, cut if a crash left it half-written."""
    where = f"{path}:{number}"
    try:
        event = read_event(tail)
    except json.JSONDecodeError:
        log.warning("ledger %s: dropping truncated last line (%d bytes)", path, len(tail))
        os.truncate(path, good_length)
        return
    except ValueError as error:
        raise LedgerCorruptError(f"{where}: {error}") from None
    _apply_event(apply, event, where)
    with path.open("a", encoding="utf-8") as file:
        file.write("\n")


def _refuse_constant(name: str) -> float:
    raise _BadEventError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _BadEventError(f"{_quoted(text)} is beyond the numbers the venue writes")
    return number


def _quoted(text: str) -> str:
    shown = text if len(text) <= _MAX_QUOTED else f"{text[:_MAX_QUOTED]}..."
    return repr(shown)
