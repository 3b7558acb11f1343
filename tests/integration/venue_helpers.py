"""Helpers for venue integration tests: configs, and a FIX client built on ``simplefix``.

The client deliberately uses simplefix (not the venue's codec) so every exchange checks the
venue against an independent FIX implementation.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import simplefix

from mock_exchange.config import SessionConfig, VenueConfig

DEFAULT_TIMEOUT_S = 5.0
FieldValue = str | bytes | int | float


def venue_config(tmp_path: Path, **overrides: Any) -> VenueConfig:
    values: dict[str, Any] = {
        "fix_port": 0,
        "admin_port": 0,
        "sessions": (
            SessionConfig(sender_comp_id="OMS-A"),
            SessionConfig(sender_comp_id="OMS-B", cancel_on_disconnect=True),
        ),
        "ledger_path": tmp_path / "ledger.jsonl",
        "tick_interval_s": 0.01,
        "fill_probability": 0.0,
    }
    values.update(overrides)
    return VenueConfig(**values)


FAR_BELOW = 1.0  # a buy limit price that never becomes marketable
FAR_ABOVE = 1_000_000.0  # a buy limit price that is always marketable


def hand_stepped_config(tmp_path: Path, **overrides: Any) -> VenueConfig:
    """Every marketable order fills, but only when the test calls ``venue.step()``."""
    return venue_config(tmp_path, fill_probability=1.0, tick_interval_s=3600, **overrides)


class FixTestClient:
    """A minimal FIX 4.4 initiator over asyncio streams, encoding/parsing with simplefix."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        sender_comp_id: str,
        target_comp_id: str,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._parser = simplefix.FixParser()
        self.sender_comp_id = sender_comp_id
        self.target_comp_id = target_comp_id
        self.next_seq = 1
        self.received: list[simplefix.FixMessage] = []

    @classmethod
    async def connect(
        cls, port: int, sender_comp_id: str = "OMS-A", target_comp_id: str = "MOCKEX"
    ) -> FixTestClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, sender_comp_id, target_comp_id)

    def build(
        self,
        msg_type: str,
        fields: Iterable[tuple[int, FieldValue]] = (),
        *,
        seq: int | None = None,
        poss_dup: bool = False,
        sending_time: str | None = None,
    ) -> bytes:
        message = simplefix.FixMessage()
        message.append_pair(8, "FIX.4.4")
        message.append_pair(35, msg_type)
        message.append_pair(49, self.sender_comp_id)
        message.append_pair(56, self.target_comp_id)
        if seq is None:
            seq = self.next_seq
            self.next_seq += 1
        message.append_pair(34, seq)
        if sending_time is None:
            message.append_utc_timestamp(52)
        else:
            message.append_pair(52, sending_time)
        if poss_dup:
            message.append_pair(43, "Y")
        for tag, value in fields:
            message.append_pair(tag, value)
        encoded: bytes = message.encode()
        return encoded

    def send(
        self,
        msg_type: str,
        fields: Iterable[tuple[int, FieldValue]] = (),
        *,
        seq: int | None = None,
        poss_dup: bool = False,
        sending_time: str | None = None,
    ) -> None:
        self._writer.write(
            self.build(msg_type, fields, seq=seq, poss_dup=poss_dup, sending_time=sending_time)
        )

    def send_raw(self, data: bytes) -> None:
        self._writer.write(data)

    async def receive(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> simplefix.FixMessage | None:
        """The next message, or ``None`` once the venue closed the connection."""
        async with asyncio.timeout(timeout_s):
            while True:
                message = self._parser.get_message()
                if message is not None:
                    self.received.append(message)
                    return message
                data = await self._reader.read(65536)
                if not data:
                    return None
                self._parser.append_buffer(data)

    async def expect(
        self, msg_type: str, timeout_s: float = DEFAULT_TIMEOUT_S, skip: Sequence[str] = ("0",)
    ) -> simplefix.FixMessage:
        """The next message of ``msg_type``, skipping only the types in ``skip``."""
        async with asyncio.timeout(timeout_s):
            while True:
                message = await self.receive(timeout_s)
                assert message is not None, f"connection closed while waiting for {msg_type}"
                received_type = message.get(35).decode()
                if received_type == msg_type:
                    return message
                assert received_type in skip, f"expected {msg_type}, got {message}"

    async def expect_any(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> simplefix.FixMessage:
        message = await self.receive(timeout_s)
        assert message is not None, "connection closed"
        return message

    async def expect_closed(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[simplefix.FixMessage]:
        """Read until the venue closes the connection; return what arrived meanwhile."""
        messages = []
        async with asyncio.timeout(timeout_s):
            while (message := await self.receive(timeout_s)) is not None:
                messages.append(message)
        return messages

    async def confirm_logout(self) -> list[simplefix.FixMessage]:
        """Read up to the venue's Logout, answer it with a Logout, wait for the venue to close.

        Returns what arrived, the Logout last. The venue waits for the answer (its logout
        timeout is longer than the wait here in the tests that use this).
        """
        messages = [await self.expect_any()]
        while messages[-1].get(35) != b"5":
            messages.append(await self.expect_any())
        self.send("5")
        assert await self.expect_closed() == [], "the venue sent more after its Logout"
        return messages

    async def logon(self, heartbeat_s: int = 30, *, reset: bool = True) -> simplefix.FixMessage:
        fields: list[tuple[int, FieldValue]] = [(98, 0), (108, heartbeat_s)]
        if reset:
            fields.append((141, "Y"))
        self.send("A", fields)
        return await self.expect("A")

    def new_order(
        self,
        cl_ord_id: str,
        *,
        side: int = 1,
        qty: int = 10,
        price: float | None = None,
        tif: int = 0,
        symbol: str = "BTC-USD",
        sub_id: str | None = "oms-a",
    ) -> None:
        fields: list[tuple[int, FieldValue]] = []
        if sub_id is not None:
            fields.append((50, sub_id))
        fields += [(11, cl_ord_id), (55, symbol), (54, side), (38, qty), (40, 1 if price is None else 2)]
        if price is not None:
            fields.append((44, price))
        fields += [(59, tif), (60, "20260101-00:00:00.000")]
        self.send("D", fields)

    def cancel(self, cl_ord_id: str, orig_cl_ord_id: str, *, side: int = 1, qty: int = 10) -> None:
        fields: list[tuple[int, FieldValue]] = [(11, cl_ord_id), (41, orig_cl_ord_id), (55, "BTC-USD")]
        self.send("F", [*fields, (54, side), (60, utc_timestamp()), (38, qty)])

    async def close(self) -> None:
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except ConnectionError:
            pass


async def wait_until(condition: Any, timeout_s: float = DEFAULT_TIMEOUT_S, poll_s: float = 0.01) -> None:
    """Poll ``condition()`` until true; fail with a timeout otherwise."""
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 - state with no event to await (ledger, sockets)
            await asyncio.sleep(poll_s)


async def get_json(port: int, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}{path}") as response:
        return response.status, await response.json()


def field(message: simplefix.FixMessage, tag: int) -> str | None:
    value = message.get(tag)
    return None if value is None else value.decode()


async def call_json(port: int, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """An admin API call; the JSON answer, or ``None`` for an empty body (204)."""
    url = f"http://127.0.0.1:{port}{path}"
    async with aiohttp.ClientSession() as http, http.request(method, url, json=body) as response:
        text = await response.text()
        return response.status, (None if not text else await response.json())


async def arm_fault(port: int, kind: str, **params: Any) -> dict[str, Any]:
    status, stored = await call_json(port, "PUT", f"/faults/{kind}", params)
    assert status == 200, stored
    assert isinstance(stored, dict)
    return stored


async def heal_fault(port: int, kind: str) -> None:
    status, _ = await call_json(port, "DELETE", f"/faults/{kind}")
    assert status == 204


async def answers_in_order(client: FixTestClient, marker: str) -> list[simplefix.FixMessage]:
    """Send a TestRequest and return every message received before its Heartbeat.

    The venue answers in order, so whatever it sent for earlier requests arrives first: an
    empty list proves it sent nothing for them (yet).
    """
    client.send("1", [(112, marker)])
    before: list[simplefix.FixMessage] = []
    while True:
        message = await client.expect_any()
        if message.get(35) == b"0" and message.get(112) == marker.encode():
            return before
        if message.get(35) != b"0":
            before.append(message)


@contextlib.asynccontextmanager
async def logged_on(port: int, sender_comp_id: str = "OMS-A") -> AsyncIterator[FixTestClient]:
    """A client logged on (with ResetSeqNumFlag) for the block, closed after it."""
    client = await FixTestClient.connect(port, sender_comp_id)
    try:
        await client.logon()
        yield client
    finally:
        await client.close()


def raw_frame(fields: Iterable[tuple[int | str, FieldValue]], begin_string: str = "FIX.4.4") -> bytes:
    """``fields`` framed exactly in the order given (BodyLength and CheckSum computed here).

    For messages simplefix would reorder (it always moves MsgType to the front).
    """
    body = b"".join(b"%s=%s\x01" % (str(tag).encode(), _encode_value(value)) for tag, value in fields)
    head = b"8=%s\x019=%d\x01" % (begin_string.encode(), len(body))
    return b"%s%s10=%03d\x01" % (head, body, sum(head + body) % 256)


def _encode_value(value: FieldValue) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def utc_timestamp(offset_s: float = 0.0) -> str:
    """A FIX UTCTimestamp ``offset_s`` away from now."""
    moment = datetime.now(UTC) + timedelta(seconds=offset_s)
    return moment.strftime("%Y%m%d-%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


Connect = Callable[..., Awaitable[FixTestClient]]


@contextlib.asynccontextmanager
async def client_factory(port: int) -> AsyncIterator[Connect]:
    """``connect(sender, target)`` for the block; every client it made is closed after it."""
    clients: list[FixTestClient] = []

    async def connect(sender_comp_id: str = "OMS-A", target_comp_id: str = "MOCKEX") -> FixTestClient:
        client = await FixTestClient.connect(port, sender_comp_id, target_comp_id)
        clients.append(client)
        return client

    try:
        yield connect
    finally:
        for client in clients:
            await client.close()
