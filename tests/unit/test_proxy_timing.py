"""The precise selector waits its whole timeout, no less, and still reports what is ready."""

from __future__ import annotations

import asyncio
import selectors
import socket
import time
from collections.abc import Iterator

import pytest

from gameday.proxy.timing import PreciseEpollSelector, precise_event_loop


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    reader, writer = socket.socketpair()
    with reader, writer:
        yield reader, writer


@pytest.mark.parametrize("timeout", [0.0003, 0.0021, 0.005])
def test_a_wait_with_nothing_ready_lasts_the_whole_timeout(
    timeout: float, pair: tuple[socket.socket, socket.socket]
) -> None:
    with PreciseEpollSelector() as selector:
        selector.register(pair[0], selectors.EVENT_READ)
        started = time.monotonic()
        assert selector.select(timeout) == []
        assert time.monotonic() - started >= timeout


def test_a_ready_socket_is_reported(pair: tuple[socket.socket, socket.socket]) -> None:
    reader, writer = pair
    with PreciseEpollSelector() as selector:
        selector.register(reader, selectors.EVENT_READ)
        writer.send(b"x")
        ((key, events),) = selector.select(1.0)
        assert key.fileobj is reader
        assert events == selectors.EVENT_READ


def test_the_loop_factory_runs_timers_in_order() -> None:
    async def fire() -> list[int]:
        loop = asyncio.get_running_loop()
        fired: list[int] = []
        done = loop.create_future()
        for index, delay in enumerate((0.0004, 0.0013, 0.0027)):
            loop.call_later(delay, fired.append, index)
        loop.call_later(0.003, done.set_result, None)
        await done
        return fired

    with asyncio.Runner(loop_factory=precise_event_loop) as runner:
        assert runner.run(fire()) == [0, 1, 2]
