"""WebSocket API venue tests: a venue config with two accounts, and a client keeping events apart."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from mock_exchange.config import VenueConfig, WsAccountConfig
from mock_exchange.venue import Venue
from tests.integration.venue_helpers import venue_config

DEFAULT_TIMEOUT_S = 5.0
Frame = dict[str, Any]
ACCOUNTS = (
    WsAccountConfig(account="desk-a", api_key="key-a"),
    WsAccountConfig(account="desk-b", api_key="key-b", cancel_on_disconnect=True),
)


def ws_venue_config(tmp_path: Path, **overrides: Any) -> VenueConfig:
    """The FIX test venue (sessions OMS-A, OMS-B) plus a WebSocket API with :data:`ACCOUNTS`."""
    return venue_config(tmp_path, ws_port=0, ws_accounts=ACCOUNTS, **overrides)


class WsTestClient:
    """Sends requests with ids; frames of type ``execution`` queue in ``events``, others in ``answers``."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.events: deque[Frame] = deque()
        self.answers: deque[Frame] = deque()
        self._ids = itertools.count(1)

    @classmethod
    @asynccontextmanager
    async def connect(cls, port: int, path: str = "/") -> AsyncIterator[WsTestClient]:
        async with aiohttp.ClientSession() as http, http.ws_connect(f"ws://127.0.0.1:{port}{path}") as ws:
            yield cls(ws)

    async def send(self, op: str, **fields: Any) -> int:
        request_id = next(self._ids)
        await self.ws.send_str(json.dumps({"op": op, "id": request_id, **fields}))
        return request_id

    async def request(self, op: str, **fields: Any) -> Frame:
        """Send a request; its answer (result or error)."""
        return await self.answer(await self.send(op, **fields))

    async def auth(self, account: str, api_key: str) -> Frame:
        return await self.request("auth", account=account, api_key=api_key)

    async def answer(self, request_id: int | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> Frame:
        """The next answer (with ``request_id`` when given; other answers before it are an error)."""
        frame = await self._next(self.answers, timeout_s)
        assert request_id is None or frame["id"] == request_id, frame
        return frame

    async def event(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> Frame:
        return await self._next(self.events, timeout_s)

    async def events_until(self, done: Any, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[Frame]:
        """Execution events up to and including the first for which ``done(event)`` holds."""
        events = []
        async with asyncio.timeout(timeout_s):
            while True:
                events.append(await self.event(timeout_s))
                if done(events[-1]):
                    return events

    async def _next(self, queue: deque[Frame], timeout_s: float) -> Frame:
        async with asyncio.timeout(timeout_s):
            while not queue:
                message = await self.ws.receive()
                assert message.type is aiohttp.WSMsgType.TEXT, f"connection ended: {message}"
                frame = json.loads(message.data)
                (self.events if frame["type"] == "execution" else self.answers).append(frame)
            return queue.popleft()


@asynccontextmanager
async def ws_client(
    venue: Venue, account: str = "desk-a", api_key: str = "key-a"
) -> AsyncIterator[WsTestClient]:
    """A client of ``venue``'s WebSocket API, authenticated as ``account``."""
    assert venue.ws_port is not None
    async with WsTestClient.connect(venue.ws_port) as client:
        answer = await client.auth(account, api_key)
        assert answer["type"] == "result", answer
        yield client


async def raw_ws_auth(
    port: int, account: str, api_key: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A bare socket that upgrades, authenticates, and then does nothing a WebSocket library would
    do by itself (no pong, no close frame): for lost connections and silent clients."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    payload = json.dumps({"op": "auth", "account": account, "api_key": api_key}).encode()
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    writer.write(bytes([0x81, 0x80 | len(payload)]) + mask + masked)  # FIN + text; client frames are masked
    header = await reader.readexactly(2)
    answer = json.loads(await reader.readexactly(header[1] & 0x7F))
    assert answer["type"] == "result", answer
    return reader, writer
