"""A WebSocket connection's outbound queue: in order, and bounded for a client that stops reading."""

from __future__ import annotations

import asyncio
import json

from aiohttp import WSCloseCode

from mock_exchange.fault_board import FaultBoard
from mock_exchange.ws.connection import MAX_PENDING_FRAMES, WsConnection


class _Socket:
    """Stands in for a WebSocketResponse; ``stuck`` makes every send wait forever (a full socket)."""

    def __init__(self, *, stuck: bool) -> None:
        self.stuck = stuck
        self.closed = False
        self.sent: list[str] = []
        self.close_codes: list[int] = []
        self._never = asyncio.Event()

    async def send_str(self, text: str) -> None:
        self.sent.append(text)
        if self.stuck:
            await self._never.wait()

    async def close(self, *, code: int, message: bytes) -> bool:
        self.close_codes.append(code)
        self.closed = True
        return True


async def test_frames_leave_in_the_order_they_were_queued() -> None:
    socket = _Socket(stuck=False)
    connection = WsConnection(socket, FaultBoard())  # type: ignore[arg-type]
    for number in range(100):
        connection.send({"n": number})
    await connection.close(WSCloseCode.GOING_AWAY, "bye")
    assert [json.loads(text)["n"] for text in socket.sent] == list(range(100))
    assert socket.close_codes == [WSCloseCode.GOING_AWAY]


async def test_a_client_that_stops_reading_is_closed_instead_of_queueing_forever() -> None:
    socket = _Socket(stuck=True)
    connection = WsConnection(socket, FaultBoard())  # type: ignore[arg-type]
    connection.send({"n": 0})
    await asyncio.sleep(0)  # the writer takes frame 0 and waits on the full socket
    for number in range(1, MAX_PENDING_FRAMES + 2):
        connection.send({"n": number})
    async with asyncio.timeout(5):
        while not socket.close_codes:  # noqa: ASYNC110 - the close runs in its own task
            await asyncio.sleep(0.01)
    assert socket.close_codes == [WSCloseCode.TRY_AGAIN_LATER]
    connection.send({"n": "after"})
    assert [json.loads(text)["n"] for text in socket.sent] == [0]
    await connection.stop_writing()
