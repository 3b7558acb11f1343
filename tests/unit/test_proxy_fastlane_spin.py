"""The fast lane's spin policy: spin after a message, stop spinning while the CPU is wanted.

The policy is driven with clocks the test moves by hand (wall time and the thread's CPU time):
time off the CPU during a spin ends it and every spin for the back-off, time spent working or
sleeping in epoll does not. Then a real lane between TCP sockets: it polls without blocking
after a message while its spins keep their CPU, and blocks in epoll (still forwarding every
byte) once a spin has lost it.
"""

from __future__ import annotations

import asyncio
import select
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from gameday.proxy.fastlane import FastLane, Release, SpinPolicy
from gameday.proxy.link import Traffic
from tests.unit.test_proxy_movers import tcp_pair

SPIN = 200e-6
LOST = 200e-6
BACKOFF = 1.0
TIMEOUT = 5.0  # s, for a socket read in the real-lane tests
Sockets = tuple[socket.socket, socket.socket, socket.socket, socket.socket]


class Clocks:
    """Wall time and the thread's CPU time, moved by the test."""

    def __init__(self) -> None:
        self.wall = 100.0
        self.cpu = 3.0

    def work(self, seconds: float) -> None:
        """The thread runs: both clocks move."""
        self.wall += seconds
        self.cpu += seconds

    def off_cpu(self, seconds: float) -> None:
        """The thread waits (preempted, for the GIL, or asleep in epoll): only the wall moves."""
        self.wall += seconds


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
def policy(clocks: Clocks) -> SpinPolicy:
    return SpinPolicy(SPIN, LOST, BACKOFF, clock=lambda: clocks.wall, cpu_clock=lambda: clocks.cpu)


def test_a_small_read_spins_for_the_spin_time_then_the_lane_blocks(
    policy: SpinPolicy, clocks: Clocks
) -> None:
    assert policy.timeout() == -1  # nothing read yet: block
    policy.burst(small_read=True)
    assert policy.timeout() == 0
    clocks.work(SPIN / 2)
    assert policy.timeout() == 0
    clocks.work(SPIN)
    assert policy.timeout() == -1
    assert policy.timeout() == -1  # the spin is over until the next message
    assert policy.lost_spins == 0


def test_a_block_read_does_not_spin(policy: SpinPolicy) -> None:
    policy.burst(small_read=False)
    assert policy.timeout() == -1


def test_each_message_during_a_spin_extends_it(policy: SpinPolicy, clocks: Clocks) -> None:
    policy.burst(small_read=True)
    for _ in range(10):
        clocks.work(SPIN * 0.9)
        assert policy.timeout() == 0
        policy.burst(small_read=True)
    assert policy.lost_spins == 0


def test_time_off_the_cpu_during_a_spin_stops_spinning_for_the_backoff(
    policy: SpinPolicy, clocks: Clocks
) -> None:
    policy.burst(small_read=True)
    assert policy.timeout() == 0
    clocks.off_cpu(LOST * 1.5)
    assert policy.timeout() == -1
    assert policy.lost_spins == 1
    clocks.off_cpu(BACKOFF / 2)  # asleep in epoll, then a message
    policy.burst(small_read=True)
    assert policy.timeout() == -1  # backing off: no spin
    clocks.off_cpu(BACKOFF)
    policy.burst(small_read=True)
    assert policy.timeout() == 0  # the back-off is over: spinning again
    assert policy.lost_spins == 1


def test_time_off_the_cpu_inside_a_burst_counts(policy: SpinPolicy, clocks: Clocks) -> None:
    """Preempted while forwarding (the peer it woke took its CPU): the next step sees it."""
    policy.burst(small_read=True)
    assert policy.timeout() == 0
    clocks.work(10e-6)
    clocks.off_cpu(LOST * 2)
    clocks.work(10e-6)
    policy.burst(small_read=True)
    assert policy.timeout() == -1
    assert policy.lost_spins == 1


def test_a_long_burst_of_work_is_not_time_lost(policy: SpinPolicy, clocks: Clocks) -> None:
    policy.burst(small_read=True)
    assert policy.timeout() == 0
    clocks.work(LOST * 50)  # a thousand connections' events in one burst
    policy.burst(small_read=True)
    assert policy.timeout() == 0
    assert policy.lost_spins == 0


def test_short_waits_do_not_add_up(policy: SpinPolicy, clocks: Clocks) -> None:
    """A peer that runs briefly on the lane's CPU at each message is no reason to stop."""
    policy.burst(small_read=True)
    for _ in range(20):
        clocks.off_cpu(LOST * 0.6)
        assert policy.timeout() == 0
        policy.burst(small_read=True)
    assert policy.lost_spins == 0


def test_sleeping_in_epoll_is_not_time_lost(policy: SpinPolicy, clocks: Clocks) -> None:
    policy.burst(small_read=True)
    clocks.work(SPIN * 2)
    assert policy.timeout() == -1  # the spin ran out: block
    clocks.off_cpu(30.0)  # asleep in epoll until the next message
    policy.burst(small_read=True)
    assert policy.timeout() == 0
    assert policy.lost_spins == 0


def test_stop_ends_the_spin(policy: SpinPolicy) -> None:
    policy.burst(small_read=True)
    policy.stop()
    assert not policy.spinning
    assert policy.timeout() == -1
    assert policy.lost_spins == 0


# -- a real lane --------------------------------------------------------------------------------
class RecordingEpoll:
    """An epoll that records the timeout of every poll."""

    made: list[RecordingEpoll] = []

    def __init__(self) -> None:
        self._epoll = REAL_EPOLL()
        self.timeouts: list[float] = []
        RecordingEpoll.made.append(self)

    def poll(self, timeout: float = -1) -> list[tuple[int, int]]:
        self.timeouts.append(timeout)
        return self._epoll.poll(timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._epoll, name)


REAL_EPOLL = select.epoll


class User:
    def __init__(self) -> None:
        self.releases: list[Release] = []

    def lane_released(self, release: Release) -> None:
        self.releases.append(release)


@pytest.fixture
def sockets() -> Iterator[Sockets]:
    """(client, lane's client side, lane's server side, server)."""
    client, near = tcp_pair()
    far, server = tcp_pair()
    for sock in (client, server):
        sock.setblocking(True)
        sock.settimeout(TIMEOUT)
    yield client, near, far, server
    for sock in (client, near, far, server):
        sock.close()


def _exchange(client: socket.socket, server: socket.socket, rounds: int) -> None:
    """Request/answer round trips of small messages through the lane, checked byte for byte."""
    for number in range(rounds):
        request = f"request {number:04d}".encode()
        client.sendall(request)
        assert _read(server, len(request)) == request
        answer = f"answer {number:05d}".encode()
        server.sendall(answer)
        assert _read(client, len(answer)) == answer


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "closed early"
        data += chunk
    return data


async def _through_lane(
    policy: SpinPolicy, sockets: Sockets, rounds: int, monkeypatch: pytest.MonkeyPatch
) -> RecordingEpoll:
    """The lane's epoll, once ``rounds`` round trips went through the lane and it stopped."""
    client, near, far, server = sockets
    RecordingEpoll.made.clear()
    monkeypatch.setattr(select, "epoll", RecordingEpoll)
    lane = FastLane(policy)
    lane.start()
    monkeypatch.undo()
    try:
        lane.adopt(User(), near, far, Traffic(), Traffic())
        await asyncio.to_thread(_exchange, client, server, rounds)
    finally:
        await lane.stop()
    (epoll,) = RecordingEpoll.made
    return epoll


async def test_the_lane_polls_without_blocking_after_a_message_while_its_spins_keep_the_cpu(
    sockets: Sockets, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a spin long enough that the first poll after a message is within it, and no wait on a
    # busy machine counts as lost
    policy = SpinPolicy(spin=1.0, lost=3600.0, backoff=BACKOFF)
    epoll = await _through_lane(policy, sockets, 3, monkeypatch)
    assert 0 in epoll.timeouts
    assert policy.lost_spins == 0


async def test_a_lane_whose_spin_lost_the_cpu_blocks_in_epoll_and_forwards_every_byte(
    sockets: Sockets, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every step of a spin counts as time lost: the first spin ends at its first step
    policy = SpinPolicy(spin=1.0, lost=-1.0, backoff=3600.0)
    epoll = await _through_lane(policy, sockets, 20, monkeypatch)
    assert policy.lost_spins == 1
    assert set(epoll.timeouts) == {-1}  # never a poll without blocking: one lost spin, then back-off
