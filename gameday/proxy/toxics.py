"""Toxic types: one small class per type, each with a typed, validated attribute model.

A toxic is the configuration shared by every link of a proxy; ``new_stage`` makes the
:class:`~gameday.proxy.stub.Stage` that runs it on one link. Most toxics are a ``pipe``
coroutine run by a :class:`~gameday.proxy.stub.ToxicStub` (see there for the interruption
contract); latency has a timer-driven stage (:mod:`gameday.proxy.latency`). Attributes are read
afresh for every chunk, so an update applies to open connections at once.

Every attribute takes what Toxiproxy's takes (any int64, missing ones 0) up to this server's
maxima. Where Toxiproxy's data path crashes the whole server on a value it accepted, this one does
the safe thing instead:

- ``bandwidth`` ``rate`` below 0 (Toxiproxy: a slice out of range, a panic): as rate 0, the data
  waits until the toxic is updated or removed, and none of it is lost;
- ``slicer`` ``average_size`` 0 or below (Toxiproxy: ``rand.Intn(0)``, a panic, on the first
  chunk): slices of 1 byte, the smallest there are; ``size_variation`` below 0 (also a panic):
  as 0; any variation keeps each slice 1 byte or more (Toxiproxy's can cut outside the chunk).

Other values below 0 mean what they mean in Toxiproxy: no wait (a ``latency``, ``jitter``,
``delay``, ``reset_peer`` timeout or slicer ``delay`` below 0), never (a ``timeout`` below 0, as 0),
and nothing through (``limit_data`` ``bytes`` below 0, as 0).
"""

from __future__ import annotations

import math
import random
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, ClassVar, Generic, Self, TypeVar, get_type_hints

from gameday.proxy import gojson
from gameday.proxy.latency import LatencyStage
from gameday.proxy.stub import Chunk, LinkControl, Pipe, Sink, Stage, TimedOut, ToxicStub, passthrough


class InvalidAttribute(ValueError):
    """An attribute value over this server's maximum for it (a duration over a day, ...)."""


INT64_MAX = 2**63 - 1  # what Go's int64 attributes hold
MAX_MS = 24 * 60 * 60 * 1000  # a day: the longest delay, latency or timeout, in ms
MAX_RATE = 1_000_000_000  # KB/s: a terabyte a second
MAX_SLICE = 1 << 30  # bytes


def bounded(maximum: int) -> Any:
    """An integer attribute, 0 by default, valid up to ``maximum`` (any int64 below it)."""
    return field(default=0, metadata={"max": maximum})


@dataclass(frozen=True, slots=True)
class Attrs:
    """Base of the attribute models: integer fields, each an int64 up to its ``bounded`` maximum
    (int64's by default)."""

    @classmethod
    def field_types(cls) -> dict[str, type]:
        hints = get_type_hints(cls)
        return {f.name: hints[f.name] for f in fields(cls)}

    def merged(self, value: Any, struct: str) -> Self:
        """A copy updated from a JSON object (case-insensitive keys, unknown keys ignored)."""
        updated = replace(self, **gojson.decode_struct(value, self.field_types(), struct))
        updated.validate()
        return updated

    def validate(self) -> None:
        for attr in fields(self):
            number = getattr(self, attr.name)  # an int64: the decoder refuses any other
            maximum = attr.metadata.get("max", INT64_MAX)
            if number > maximum:
                raise InvalidAttribute(f"{attr.name} must be at most {maximum}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class LatencyAttrs(Attrs):
    latency: int = bounded(MAX_MS)  # ms
    jitter: int = bounded(MAX_MS)  # ms


@dataclass(frozen=True, slots=True)
class BandwidthAttrs(Attrs):
    rate: int = bounded(MAX_RATE)  # KB/s (1000 bytes)


@dataclass(frozen=True, slots=True)
class SlowCloseAttrs(Attrs):
    delay: int = bounded(MAX_MS)  # ms


@dataclass(frozen=True, slots=True)
class TimeoutAttrs(Attrs):
    timeout: int = bounded(MAX_MS)  # ms; 0 = never


@dataclass(frozen=True, slots=True)
class SlicerAttrs(Attrs):
    average_size: int = bounded(MAX_SLICE)  # bytes
    size_variation: int = bounded(MAX_SLICE)  # bytes
    delay: int = bounded(MAX_MS * 1000)  # microseconds


@dataclass(frozen=True, slots=True)
class LimitDataAttrs(Attrs):
    bytes: int = bounded(INT64_MAX)


@dataclass(frozen=True, slots=True)
class NoAttrs(Attrs):
    pass


A = TypeVar("A", bound=Attrs)


class Toxic(ABC, Generic[A]):
    """One toxic's configuration; ``new_stage`` applies it to the stream of one link."""

    type_name: ClassVar[str]
    attrs_type: ClassVar[type[Attrs]]
    struct_name: ClassVar[str]

    def __init__(self, attrs: A) -> None:
        self.attrs = attrs

    @abstractmethod
    def new_stage(self, toxicity: float, output: Sink, link: LinkControl, rng: random.Random) -> Stage:
        """The toxic on one link, delivering to ``output``; the link starts it."""

    def on_removed(self, stage: Stage) -> None:
        """Called for each link that was running this toxic when it is removed."""


class PipedToxic(Toxic[A]):
    """A toxic whose ``pipe`` coroutine runs in a task per link (a :class:`ToxicStub`)."""

    def new_stage(self, toxicity: float, output: Sink, link: LinkControl, rng: random.Random) -> Stage:
        return ToxicStub(self, toxicity, Pipe(), output, link, rng)

    @abstractmethod
    async def pipe(self, stub: ToxicStub) -> None:
        """Move items from ``stub`` input to output until the stream ends or an interruption."""

    def new_state(self) -> Any:
        """Per-link state that survives updates and restarts (``None`` if the toxic has none)."""
        return None


class LatencyToxic(Toxic[LatencyAttrs]):
    """Each chunk is released at its read time + latency ± jitter; chunks overlap their delays."""

    type_name = "latency"
    attrs_type = LatencyAttrs
    struct_name = "LatencyToxic"

    def new_stage(self, toxicity: float, output: Sink, link: LinkControl, rng: random.Random) -> Stage:
        return LatencyStage(self, toxicity, output, link, rng)

    def delay(self, rng: random.Random) -> float:
        delay_ms = self.attrs.latency
        if self.attrs.jitter > 0:
            delay_ms += rng.randint(-self.attrs.jitter, self.attrs.jitter - 1)
        return delay_ms / 1000


class BandwidthToxic(PipedToxic[BandwidthAttrs]):
    """Limits throughput to ``rate`` KB/s; big chunks go out in 100 ms slices; rate 0 (or below) stalls."""

    type_name = "bandwidth"
    attrs_type = BandwidthAttrs
    struct_name = "BandwidthToxic"

    async def pipe(self, stub: ToxicStub) -> None:
        owed = 0.0  # seconds of sleep owed, carrying the timer's error to the next chunk
        while True:
            chunk = await stub.recv()
            if chunk is None:
                stub.close()
                return
            rate = self.attrs.rate
            if rate <= 0:
                await stub.sleep_until(math.inf)
                stub.unrecv(chunk)
                return
            paced = await self._send_paced(stub, chunk, rate * 100, owed + len(chunk.data) / (rate * 1000))
            if paced is None:
                return
            owed = paced

    @staticmethod
    async def _send_paced(stub: ToxicStub, chunk: Chunk, slice_size: int, owed: float) -> float | None:
        data = chunk.data
        while len(data) > slice_size:
            if not await stub.sleep(0.1):
                stub.unrecv(Chunk(data, chunk.ts))
                return None
            stub.send(Chunk(data[:slice_size], chunk.ts))
            data = data[slice_size:]
            owed -= 0.1
        loop_time = stub.loop_time()
        if not await stub.sleep(owed):
            stub.unrecv(Chunk(data, chunk.ts))
            return None
        stub.send(Chunk(data, chunk.ts))
        return owed - (stub.loop_time() - loop_time)


class SlowCloseToxic(PipedToxic[SlowCloseAttrs]):
    """Delays the end of the stream by ``delay`` ms."""

    type_name = "slow_close"
    attrs_type = SlowCloseAttrs
    struct_name = "SlowCloseToxic"

    async def pipe(self, stub: ToxicStub) -> None:
        while True:
            item = await stub.recv()
            if item is not None:
                stub.send(item)
                continue
            if not await stub.sleep(self.attrs.delay / 1000):
                stub.unrecv(None)
                return
            stub.close()
            return


class TimeoutToxic(PipedToxic[TimeoutAttrs]):
    """Drops all data; closes after ``timeout`` ms without data (0 or below: never). Removal closes too."""

    type_name = "timeout"
    attrs_type = TimeoutAttrs
    struct_name = "TimeoutToxic"

    async def pipe(self, stub: ToxicStub) -> None:
        while True:
            timeout_ms = self.attrs.timeout
            item = await (stub.recv() if timeout_ms <= 0 else stub.recv_within(timeout_ms / 1000))
            if item is None or isinstance(item, TimedOut):
                stub.close()
                return
            stub.drop(item)

    def on_removed(self, stage: Stage) -> None:
        stage.link.close_connection()


class ResetPeerToxic(PipedToxic[TimeoutAttrs]):
    """On the first chunk (or EOF), waits ``timeout`` ms, then resets the connection (RST)."""

    type_name = "reset_peer"
    attrs_type = TimeoutAttrs
    struct_name = "ResetToxic"

    async def pipe(self, stub: ToxicStub) -> None:
        item = await stub.recv()
        if not await stub.sleep(self.attrs.timeout / 1000):
            stub.unrecv(item)
            return
        if item is not None:
            stub.drop(item)
        stub.link.reset_connection()
        await stub.sleep_until(math.inf)  # the link is torn down; wait to be cancelled


class SlicerToxic(PipedToxic[SlicerAttrs]):
    """Splits chunks into pieces of about ``average_size`` bytes (at least 1), ``delay`` µs apart."""

    type_name = "slicer"
    attrs_type = SlicerAttrs
    struct_name = "SlicerToxic"

    def cuts(self, start: int, end: int, rng: random.Random) -> list[tuple[int, int]]:
        average, variation = max(self.attrs.average_size, 1), max(self.attrs.size_variation, 0)
        if (end - start) - average <= variation:
            return [(start, end)]
        mid = start + (end - start) // 2
        if variation > 0:
            mid += rng.randrange(variation * 2) - variation + rng.randrange(variation + 1)
        mid = min(max(mid, start + 1), end - 1)
        return self.cuts(start, mid, rng) + self.cuts(mid, end, rng)

    async def pipe(self, stub: ToxicStub) -> None:
        while True:
            chunk = await stub.recv()
            if chunk is None:
                stub.close()
                return
            for start, end in self.cuts(0, len(chunk.data), stub.rng):
                stub.send(Chunk(chunk.data[start:end], chunk.ts))
                if not await stub.sleep(self.attrs.delay / 1_000_000):
                    if end < len(chunk.data):
                        stub.unrecv(Chunk(chunk.data[end:], chunk.ts))
                    return


@dataclass(slots=True)
class LimitDataState:
    transmitted: int = 0


class LimitDataToxic(PipedToxic[LimitDataAttrs]):
    """Forwards up to ``bytes`` bytes in total (across updates), then closes the connection."""

    type_name = "limit_data"
    attrs_type = LimitDataAttrs
    struct_name = "LimitDataToxic"

    def new_state(self) -> LimitDataState:
        return LimitDataState()

    async def pipe(self, stub: ToxicStub) -> None:
        state: LimitDataState = stub.state
        while True:
            chunk = await stub.recv()
            if chunk is None:
                stub.close()
                return
            allowed = max(self.attrs.bytes - state.transmitted, 0)
            if allowed < len(chunk.data):
                stub.drop(Chunk(chunk.data[allowed:], chunk.ts))
                chunk = Chunk(chunk.data[:allowed], chunk.ts)
            if chunk.data:
                stub.send(chunk)
                state.transmitted += len(chunk.data)
            if self.attrs.bytes - state.transmitted <= 0:
                stub.close()
                return


class NoopToxic(PipedToxic[NoAttrs]):
    type_name = "noop"
    attrs_type = NoAttrs
    struct_name = "NoopToxic"

    async def pipe(self, stub: ToxicStub) -> None:
        await passthrough(stub)


TOXIC_TYPES: Mapping[str, type[Toxic[Any]]] = {
    cls.type_name: cls
    for cls in (
        LatencyToxic,
        BandwidthToxic,
        SlowCloseToxic,
        TimeoutToxic,
        ResetPeerToxic,
        SlicerToxic,
        LimitDataToxic,
        NoopToxic,
    )
}


def build_toxic(type_name: str, attributes: Any) -> Toxic[Any]:
    """A toxic of a registered type from a JSON attributes object (KeyError: unknown type)."""
    cls = TOXIC_TYPES[type_name]
    return cls(cls.attrs_type().merged(attributes, f"{cls.struct_name}.attributes"))
