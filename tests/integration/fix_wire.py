"""A raw FIX 4.4 peer over a real socket, for the session-rule tests (``test_fix_session_rules*``).

Written from the FIX 4.4 specification alone (no FIX library, not the venue's codec), so that a
rule is checked against an independent reading of the wire format:

- :func:`frame` lays fields out exactly as given and can get BodyLength or CheckSum wrong on
  purpose;
- :class:`WirePeer` reads the venue's answers with its own framing and asserts that every
  frame the venue sends is well formed (8, 9, 35 first; BodyLength and CheckSum right).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

SOH = b"\x01"
BEGIN_STRING = "FIX.4.4"
DEFAULT_TIMEOUT_S = 5.0
Value = str | int | float | bytes
Fields = Sequence[tuple[int | str, Value]]


def utc(offset_s: float = 0.0) -> str:
    """A UTCTimestamp (milliseconds) ``offset_s`` seconds away from now."""
    moment = datetime.now(UTC) + timedelta(seconds=offset_s)
    return moment.strftime("%Y%m%d-%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _encode(value: Value) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def encode_fields(fields: Fields) -> bytes:
    return b"".join(b"%s=%s\x01" % (str(tag).encode(), _encode(value)) for tag, value in fields)


def frame(
    fields: Fields,
    *,
    begin_string: str = BEGIN_STRING,
    body_length_delta: int = 0,
    checksum_delta: int = 0,
) -> bytes:
    """``8=..|9=..|<fields>|10=..``: BodyLength off by ``body_length_delta``, CheckSum by
    ``checksum_delta`` (both right by default)."""
    return frame_body(
        encode_fields(fields),
        begin_string=begin_string,
        body_length_delta=body_length_delta,
        checksum_delta=checksum_delta,
    )


def frame_body(
    body: bytes, *, begin_string: str = BEGIN_STRING, body_length_delta: int = 0, checksum_delta: int = 0
) -> bytes:
    """:func:`frame` of a body given as bytes (for bodies no field list can express)."""
    head = b"8=%s\x019=%d\x01" % (begin_string.encode(), len(body) + body_length_delta)
    checksum = (sum(head + body) + checksum_delta) % 256
    return b"%s%s10=%03d\x01" % (head, body, checksum)


class WireMessage:
    """One message the venue sent: its fields in order (8, 9 and 10 included)."""

    def __init__(self, fields: list[tuple[int, str]]) -> None:
        self.fields = fields

    def get(self, tag: int) -> str | None:
        """The first value of ``tag``; ``None`` when absent."""
        return next((value for field_tag, value in self.fields if field_tag == tag), None)

    def values(self, *tags: int) -> list[str | None]:
        return [self.get(tag) for tag in tags]

    @property
    def msg_type(self) -> str | None:
        return self.get(35)

    def __repr__(self) -> str:
        return "|".join(f"{tag}={value}" for tag, value in self.fields)


def parse_frame(data: bytes) -> tuple[WireMessage, int] | None:
    """The first frame of ``data`` and its length; ``None`` while it is incomplete.

    Asserts the frame is well formed: a sender that breaks framing is wrong, not garbled.
    """
    assert data.startswith(b"8=FIX.4.4\x019="), f"frame does not start with 8 then 9: {data[:40]!r}"
    length_end = data.find(SOH, 12)
    if length_end < 0:
        return None
    body_start = length_end + 1
    body_end = body_start + int(data[12:length_end])
    frame_end = body_end + 7
    if len(data) < frame_end:
        return None
    trailer = data[body_end:frame_end]
    assert trailer.startswith(b"10="), f"BodyLength is wrong: {data[:frame_end]!r}"
    assert trailer.endswith(SOH), f"BodyLength is wrong: {data[:frame_end]!r}"
    assert int(trailer[3:6]) == sum(data[:body_end]) % 256, f"CheckSum is wrong: {data[:frame_end]!r}"
    pairs = [item.split(b"=", 1) for item in data[:frame_end].split(SOH)[:-1]]
    fields = [(int(tag), value.decode("latin-1")) for tag, value in pairs]
    assert fields[2][0] == 35, f"MsgType is not the third field: {fields}"
    return WireMessage(fields), frame_end


class WirePeer:
    """A FIX initiator speaking raw bytes to the venue's acceptor; it numbers what it sends."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sender: str, target: str
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._buffer = b""
        self.sender = sender
        self.target = target
        self.next_seq = 1

    @classmethod
    async def connect(cls, port: int, sender: str = "OMS-A", target: str = "MOCKEX") -> WirePeer:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, sender, target)

    # -- building and sending ----------------------------------------------------------------

    def header(
        self,
        msg_type: str,
        *,
        seq: int | None = None,
        sending_time: str | None = None,
        poss_dup: bool = False,
        orig_sending_time: str | None = None,
    ) -> list[tuple[int | str, Value]]:
        """35, 49, 56, 34, 52 (and 43, 122): ``seq`` defaults to the next number, used up here."""
        if seq is None:
            seq = self.next_seq
            self.next_seq += 1
        fields: list[tuple[int | str, Value]] = [
            (35, msg_type),
            (49, self.sender),
            (56, self.target),
            (34, seq),
            (52, sending_time or utc()),
        ]
        if poss_dup:
            fields.append((43, "Y"))
        if orig_sending_time is not None:
            fields.append((122, orig_sending_time))
        return fields

    def send(
        self,
        msg_type: str,
        body: Fields = (),
        *,
        seq: int | None = None,
        sending_time: str | None = None,
        poss_dup: bool = False,
        orig_sending_time: str | None = None,
    ) -> None:
        header = self.header(
            msg_type,
            seq=seq,
            sending_time=sending_time,
            poss_dup=poss_dup,
            orig_sending_time=orig_sending_time,
        )
        self.send_bytes(frame([*header, *body]))

    def send_bytes(self, data: bytes) -> None:
        self._writer.write(data)

    async def logon(self, heartbeat_s: int = 30, *, reset: bool = True) -> WireMessage:
        body: list[tuple[int | str, Value]] = [(98, 0), (108, heartbeat_s)]
        if reset:
            body.append((141, "Y"))
        self.send("A", body)
        return await self.next("A")

    # -- receiving ---------------------------------------------------------------------------

    async def receive(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> WireMessage | None:
        """The next message, or ``None`` once the venue has closed the connection."""
        async with asyncio.timeout(timeout_s):
            while True:
                if self._buffer:
                    parsed = parse_frame(self._buffer)
                    if parsed is not None:
                        message, size = parsed
                        self._buffer = self._buffer[size:]
                        return message
                try:
                    data = await self._reader.read(65536)
                except ConnectionResetError:
                    data = b""
                if not data:
                    assert not self._buffer, f"connection closed inside a frame: {self._buffer!r}"
                    return None
                self._buffer += data

    async def next(self, msg_type: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> WireMessage:
        """The very next message, which must be of ``msg_type``."""
        message = await self.receive(timeout_s)
        assert message is not None, f"the venue closed the connection instead of sending {msg_type}"
        assert message.msg_type == msg_type, f"expected MsgType {msg_type}, got {message}"
        return message

    async def closed(self, timeout_s: float = 3.0) -> list[WireMessage]:
        """Everything the venue sends until it closes the connection (fails on a hang)."""
        messages = []
        while (message := await self.receive(timeout_s)) is not None:
            messages.append(message)
        return messages

    async def nothing_sent_since(self, marker: str) -> WireMessage:
        """Send a TestRequest ``marker``; its Heartbeat must be the very next message.

        The venue answers in order, so this proves it sent nothing for whatever came before,
        and that the TestRequest's MsgSeqNum was the one expected (else a ResendRequest or a
        Logout would come first).
        """
        self.send("1", [(112, marker)])
        heartbeat = await self.next("0")
        assert heartbeat.get(112) == marker, heartbeat
        return heartbeat

    async def close(self) -> None:
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except ConnectionError:
            pass


def fields_of(messages: Iterable[WireMessage], *tags: int) -> list[list[str | None]]:
    return [message.values(*tags) for message in messages]
