"""The "can we trade?" probe's completions, as the availability checkers read them.

A probe (``probe-trade`` ``trade``) completes ``ok`` on the instance that took the order, or
``fail`` / ``info`` (timed out). A failure because the venue halted the probed symbol is the
venue's state, not the OMS's: the OMS answered 502 (the venue rejected the order, SUT contract)
with the venue's text, e.g. ``Trading halted: BTC-USD``. Such an attempt says nothing about
whether the OMS can trade, so it is neither a success nor a failure here. An OMS's own halt (its
kill switch: 503 ``{"error": "halted"}``) is not a venue state and counts as a failure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from gameday.history import Op, OpKind, OpType

__all__ = ["TRADE_PROBE", "Attempt", "Outcome", "attempts", "counted", "venue_halted"]

TRADE_PROBE = "probe-trade"
VENUE_REJECTED = 502
_HALTED = re.compile(r"\bhalt(ed)?\b", re.IGNORECASE)


class Outcome(StrEnum):
    OK = "ok"
    FAILED = "failed"
    VENUE_HALTED = "venue_halted"


@dataclass(frozen=True)
class Attempt:
    """One completed trade probe."""

    index: int
    t_ns: int
    wall: str
    outcome: Outcome
    instance: str | None
    symbol: str | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def venue_halted(op: Op, symbol: str | None) -> bool:
    """Whether a failed probe was refused because the venue halted its symbol (named in the text)."""
    if op.type != OpType.FAIL or op.value.get("status") != VENUE_REJECTED:
        return False
    text = " ".join(_text(op.value.get(key)) for key in ("text", "reason"))
    if not _HALTED.search(text):
        return False
    return symbol is None or symbol in text


def _is_trade_probe(op: Op) -> bool:
    return op.kind == OpKind.PROBE and op.process == TRADE_PROBE and op.f == "trade"


def _symbols_by_completion(ops: Sequence[Op]) -> dict[int, str]:
    """Each completion's symbol: its own ``symbol``, else that of the invoke just before it."""
    symbols: dict[int, str] = {}
    pending: str | None = None
    for op in ops:
        if not _is_trade_probe(op):
            continue
        symbol = op.value.get("symbol")
        if op.type == OpType.INVOKE:
            pending = symbol if isinstance(symbol, str) else None
            continue
        chosen = symbol if isinstance(symbol, str) else pending
        if chosen is not None:
            symbols[op.index] = chosen
        pending = None
    return symbols


def attempts(ops: Sequence[Op]) -> list[Attempt]:
    """Every completed trade probe, in time order (ties: history order)."""
    symbols = _symbols_by_completion(ops)
    found: list[Attempt] = []
    for op in ops:
        if not _is_trade_probe(op) or op.type == OpType.INVOKE:
            continue
        symbol = symbols.get(op.index)
        instance = op.value.get("instance")
        if op.type == OpType.OK:
            outcome = Outcome.OK
        elif venue_halted(op, symbol):
            outcome = Outcome.VENUE_HALTED
        else:
            outcome = Outcome.FAILED
        error = op.value.get("text") or op.value.get("error")
        found.append(Attempt(op.index, op.t_ns, op.wall, outcome,
                             instance if isinstance(instance, str) else None, symbol,
                             str(error) if error is not None and outcome is not Outcome.OK else None))
    return sorted(found, key=lambda attempt: (attempt.t_ns, attempt.index))


def counted(found: Sequence[Attempt]) -> list[Attempt]:
    """The attempts that say whether the OMS could trade (venue halts left out)."""
    return [attempt for attempt in found if attempt.outcome is not Outcome.VENUE_HALTED]
