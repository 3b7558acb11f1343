"""The toxics of one proxy (API thread), and how each change reaches its open connections.

Every change is validated here, then applied in the data loop by one operation on the proxy's
:class:`~gameday.proxy.relay.Relay`. Adding a toxic answers only once the fast lane forwards
none of the proxy's bytes any more, so whatever a client sends after the answer meets the toxic.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from gameday.proxy import errors, gojson, limits
from gameday.proxy.dataplane import DataPlane
from gameday.proxy.link import Direction
from gameday.proxy.relay import Relay
from gameday.proxy.toxics import TOXIC_TYPES, InvalidAttribute, Toxic, build_toxic

_CREATE_FIELDS: dict[str, type] = {
    "name": str,
    "type": str,
    "stream": str,
    "toxicity": float,
    "attributes": object,
}
_UPDATE_FIELDS: dict[str, type] = {"attributes": object, "toxicity": float}


def _toxicity(fields: dict[str, Any], default: float) -> float:
    """The toxicity of a decoded body: a probability, 0 to 1."""
    toxicity: float = fields.get("toxicity", default)
    if not 0 <= toxicity <= 1:
        raise errors.bad_body("toxicity must be between 0 and 1")
    return toxicity


@dataclass(slots=True)
class ToxicEntry:
    """A named toxic on one stream of a proxy; ``stream_name`` is the stream as the client wrote it
    (``UpStream``), which Toxiproxy keeps, and uses in the default name (``latency_UpStream``)."""

    name: str
    stream: Direction
    toxicity: float
    toxic: Toxic[Any]
    stream_name: str

    def to_json(self) -> dict[str, Any]:
        return {
            "attributes": self.toxic.attrs.to_json(),
            "name": self.name,
            "type": self.toxic.type_name,
            "stream": self.stream_name,
            "toxicity": gojson.go_number(self.toxicity),
        }


class ToxicCollection:
    """Toxics per stream in insertion order; changes are serialised and applied to live links."""

    def __init__(self, relay: Relay, plane: DataPlane) -> None:
        self._relay = relay
        self._plane = plane
        self._by_stream: dict[Direction, list[ToxicEntry]] = {d: [] for d in Direction}
        self._lock = asyncio.Lock()

    def entries(self) -> list[ToxicEntry]:
        return [*self._by_stream[Direction.UPSTREAM], *self._by_stream[Direction.DOWNSTREAM]]

    def get(self, name: str) -> ToxicEntry:
        for entry in self.entries():
            if entry.name == name:
                return entry
        raise errors.NotFound(errors.TOXIC_NOT_FOUND)

    def _exists(self, name: str) -> bool:
        return any(entry.name == name for entry in self.entries())

    async def add_json(self, body: bytes) -> ToxicEntry:
        async with self._lock:
            entry = self._parse_new(body)
            relay = self._relay
            released = await self._plane.call(relay.add_toxic, entry.stream, entry.toxic, entry.toxicity)
            if released is not None:
                await asyncio.wrap_future(released)
            self._by_stream[entry.stream].append(entry)
            return entry

    def _parse_new(self, body: bytes) -> ToxicEntry:
        try:
            fields = gojson.decode_struct(gojson.parse(body), _CREATE_FIELDS, "toxics.ToxicWrapper")
        except gojson.DecodeError as exc:
            raise errors.bad_body(str(exc)) from None
        stream_name = fields.get("stream", Direction.DOWNSTREAM.value)
        if stream_name.lower() not in Direction.__members__.values():
            raise errors.BadRequest(errors.INVALID_STREAM)
        type_name = fields.get("type", "")
        name = fields.get("name") or f"{type_name}_{stream_name}"
        if type_name not in TOXIC_TYPES:
            raise errors.BadRequest(errors.INVALID_TOXIC_TYPE)
        limits.check_name("toxic", name)
        if self._exists(name):
            raise errors.Conflict(errors.TOXIC_EXISTS)
        toxicity = _toxicity(fields, 1.0)
        try:
            toxic = build_toxic(type_name, fields.get("attributes"))
        except (gojson.DecodeError, InvalidAttribute) as exc:
            raise errors.bad_body(str(exc)) from None
        return ToxicEntry(name, Direction(stream_name.lower()), toxicity, toxic, stream_name)

    async def update_json(self, name: str, body: bytes) -> ToxicEntry:
        async with self._lock:
            entry = self.get(name)
            try:
                fields = gojson.decode_struct(gojson.parse(body), _UPDATE_FIELDS, "toxics.ToxicWrapper")
                attrs = entry.toxic.attrs.merged(
                    fields.get("attributes"), f"{entry.toxic.struct_name}.attributes"
                )
            except (gojson.DecodeError, InvalidAttribute) as exc:
                raise errors.bad_body(str(exc)) from None
            entry.toxicity = _toxicity(fields, entry.toxicity)
            await self._plane.call(self._relay.update_toxic, entry.stream, entry.toxic, attrs, entry.toxicity)
            return entry

    async def remove(self, name: str) -> None:
        async with self._lock:
            await self._remove(self.get(name))

    async def reset(self) -> None:
        """Remove every toxic (``POST /reset``)."""
        async with self._lock:
            for entry in self.entries():
                await self._remove(entry)

    async def _remove(self, entry: ToxicEntry) -> None:
        self._by_stream[entry.stream].remove(entry)
        await self._plane.call(self._relay.remove_toxic, entry.stream, entry.toxic)
