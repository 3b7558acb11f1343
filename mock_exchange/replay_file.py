"""The recorded market-day file a replay plays back (docs/scenario-format.md, "replay").

JSON Lines, UTF-8, one event per line, in time order (``t`` never goes back); blank lines and
lines starting with ``#`` are skipped. Every event has ``t`` (ISO 8601 with a UTC offset, e.g.
``2026-03-13T20:59:58Z``) and ``type``:

- ``tick``: ``symbol``, ``px`` (> 0): the symbol's price then. Prices are replayed as returns:
  the symbol's first tick is pinned to the venue's price when the replay starts, and the mid
  moves in a straight line from one tick to the next;
- ``halt``: ``symbol``, ``reason`` (optional): trading in the symbol halts;
- ``resume``: ``symbol``: the halt is lifted;
- ``session``: ``state`` (``close`` | ``open``), ``date`` (optional, the settlement date of the
  session that opens or closes): a session break; every symbol is halted from the close to the
  open (a settlement boundary, e.g. UTC midnight);
- ``fills``: ``markets`` (1-8 market codes), ``max_lots`` (>= 1), both optional: from then on each
  trade is reported in pieces of at most ``max_lots`` lots, each piece from the next market in
  turn (multi-leg partial fills); a ``fills`` line with neither reports trades as the venue does.

Bounded: at most :data:`MAX_REPLAY_BYTES` bytes, :data:`MAX_REPLAY_LINES` lines of at most
:data:`MAX_REPLAY_LINE_CHARS` characters, a day of at most :data:`MAX_REPLAY_SPAN_S`. A bad line
is one :class:`ReplayFileError` naming the file and the line.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

MAX_REPLAY_BYTES = 256 * 1024
MAX_REPLAY_LINES = 2_000
MAX_REPLAY_LINE_CHARS = 1_024
MAX_REPLAY_SPAN_S = 7 * 86_400.0
SYMBOL_PATTERN = r"^[A-Z0-9]+([-/.][A-Z0-9]+)*$"

Symbol = Annotated[str, Field(pattern=SYMBOL_PATTERN, max_length=64)]


class ReplayFileError(ValueError):
    """The replay file (or one of its lines) cannot be played; the message names where."""


class SessionState(StrEnum):
    CLOSE = "close"
    OPEN = "open"


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    t: AwareDatetime


class Tick(_Line):
    type: Literal["tick"]
    symbol: Symbol
    px: float = Field(gt=0, allow_inf_nan=False)


class Halt(_Line):
    type: Literal["halt"]
    symbol: Symbol
    reason: str | None = Field(default=None, min_length=1, max_length=128)


class Resume(_Line):
    type: Literal["resume"]
    symbol: Symbol


class Session(_Line):
    type: Literal["session"]
    state: SessionState
    date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")


class Fills(_Line):
    type: Literal["fills"]
    markets: tuple[Annotated[str, Field(pattern=r"^[A-Z0-9]{1,8}$")], ...] | None = Field(
        default=None, min_length=1, max_length=8)
    max_lots: int | None = Field(default=None, ge=1, le=1_000_000_000)


ReplayLine = Annotated[Tick | Halt | Resume | Session | Fills, Field(discriminator="type")]
_LINE = TypeAdapter(ReplayLine)


@dataclass(frozen=True, slots=True)
class ReplayEvent:
    offset_s: float
    """seconds after the day's first event, as recorded"""
    line: Tick | Halt | Resume | Session | Fills
    line_number: int


@dataclass(frozen=True, slots=True)
class ReplayDay:
    events: tuple[ReplayEvent, ...]
    source: str

    @property
    def symbols(self) -> list[str]:
        return sorted({e.line.symbol for e in self.events if isinstance(e.line, Tick | Halt | Resume)})

    @property
    def span_s(self) -> float:
        return self.events[-1].offset_s if self.events else 0.0

    def ticks(self, symbol: str) -> list[ReplayEvent]:
        return [e for e in self.events if isinstance(e.line, Tick) and e.line.symbol == symbol]


def parse_lines(lines: Sequence[str], source: str) -> ReplayDay:
    """The day ``lines`` (a file's lines, numbered from 1) describe; :class:`ReplayFileError` on
    the first bad one."""
    if len(lines) > MAX_REPLAY_LINES:
        raise ReplayFileError(f"{source}: {len(lines):,} lines; expected at most {MAX_REPLAY_LINES:,}")
    events: list[ReplayEvent] = []
    first: datetime | None = None
    last: datetime | None = None
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        line = _parse_line(text, f"{source}:{number}")
        if last is not None and line.t < last:
            raise ReplayFileError(f"{source}:{number}: t {line.t.isoformat()} is before the line above "
                                  f"({last.isoformat()}); expected events in time order")
        first = first or line.t
        last = line.t
        offset_s = (line.t - first).total_seconds()
        if offset_s > MAX_REPLAY_SPAN_S:
            raise ReplayFileError(f"{source}:{number}: {offset_s:,.0f} s after the first event; expected "
                                  f"a day of at most {MAX_REPLAY_SPAN_S:,.0f} s")
        events.append(ReplayEvent(offset_s, line, number))
    if not any(isinstance(event.line, Tick) for event in events):
        raise ReplayFileError(f"{source}: no tick; expected at least one {{\"type\": \"tick\", ...}} line")
    return ReplayDay(tuple(events), source)


def _parse_line(text: str, where: str) -> Tick | Halt | Resume | Session | Fills:
    if len(text) > MAX_REPLAY_LINE_CHARS:
        raise ReplayFileError(f"{where}: a line of {len(text):,} characters; expected at most "
                              f"{MAX_REPLAY_LINE_CHARS:,}")
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except ValueError as error:
        raise ReplayFileError(f"{where}: not a JSON object: {error}") from None
    if not isinstance(value, dict):
        raise ReplayFileError(f"{where}: expected a JSON object, got {type(value).__name__}")
    try:
        return _LINE.validate_python(value)
    except ValidationError as error:
        problem = error.errors()[0]
        field = ".".join(str(part) for part in problem["loc"][1:] or problem["loc"]) or "line"
        raise ReplayFileError(f"{where}: {field}: {problem['msg']}") from None


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number a replay takes")


def read_lines(path: Path) -> tuple[str, ...]:
    """The lines of the replay file at ``path``, checked (:class:`ReplayFileError` naming it)."""
    try:
        status = path.stat()
    except OSError as error:
        raise ReplayFileError(f"{path}: cannot read the replay file: {error.strerror or error}") from None
    if not stat.S_ISREG(status.st_mode):
        raise ReplayFileError(f"{path}: expected a regular file")
    if status.st_size > MAX_REPLAY_BYTES:
        raise ReplayFileError(f"{path}: {status.st_size:,} bytes; expected at most {MAX_REPLAY_BYTES:,}")
    with path.open("rb") as file:
        data = file.read(MAX_REPLAY_BYTES + 1)
    if len(data) > MAX_REPLAY_BYTES:
        raise ReplayFileError(f"{path}: more than {MAX_REPLAY_BYTES:,} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ReplayFileError(f"{path}:{line}: not UTF-8") from None
    lines = tuple(text.splitlines())
    parse_lines(lines, str(path))
    return lines

