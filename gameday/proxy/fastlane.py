"""The fast lane: toxic-free connections forwarded by one thread, off the event loop.

A round trip through the asyncio loop costs ~100 µs on this kind of machine; one thread that
waits in epoll and moves bytes (with ``splice``, see :mod:`gameday.proxy.movers`) costs a
fraction of that. A new
connection of a proxy without toxics is *adopted* by the lane. The moment it needs the event
loop (a toxic is added, the proxy stops, a socket reaches EOF or fails) the lane *releases* it:
it stops reading both sockets and hands back, in a :class:`Release`, what it had read but not
yet written, so the connection goes on in the loop without losing or reordering a byte. Once
its proxy has no toxics again, the connection is adopted again (see
:meth:`gameday.proxy.connection.Connection.return_to_lane`).

After a burst of events with a small read (a request or an answer) the lane polls without
blocking for ``SPIN`` seconds before it sleeps in epoll: the answer to a request usually arrives
within that time, and catching it without a wake-up saves the tens of µs an idle vCPU takes to
wake (what Go's runtime does for Toxiproxy). A bulk transfer reads big blocks and does not spin:
the CPU is better left to the processes at both ends.

Spinning pays only while a CPU would otherwise idle (see :class:`SpinPolicy`). On a busy machine
the spinning thread takes the CPU its peers need: the peer it has just woken is queued on its
CPU (a socket write is a "sync" wake-up: the kernel expects the writer to sleep), and the CPU
time it burns leaves it behind every other runnable task when the answer comes, so it waits
for the next one's slice to end (a tick, 4 ms here). So the lane watches its own spins: if
during one it was kept off its CPU for longer than ``SPIN_LOST`` (wall time less the thread's
CPU time: other tasks, or other threads holding the GIL, were running instead), it stops
spinning for ``SPIN_BACKOFF`` seconds and sleeps in epoll after every burst, then tries again.

Threading: the lane's state is touched only by its thread. The loop thread talks to it through
a command queue and an eventfd; the lane hands connections back with
``loop.call_soon_threadsafe``, in order, and resolves the futures of requests itself (so a
thread other than the loop's may wait for a release).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol, TypeVar

from gameday.proxy.link import Traffic
from gameday.proxy.movers import BUFFER_SIZE, Mover, new_mover

logger = logging.getLogger(__name__)

SPIN = 200e-6  # s of non-blocking polls after the last event
SPIN_READ = 16 * 1024  # a read at most this big (a message, not a block) makes the lane spin
SPIN_LOST = SPIN  # s off the CPU during a spin that show the CPU is wanted: stop spinning...
SPIN_BACKOFF = 1.0  # ... for this long (s)
_READ = select.EPOLLIN | select.EPOLLRDHUP
_T = TypeVar("_T")


class SpinPolicy:
    """When the lane polls without blocking: for ``spin`` s after a burst with a small read,
    unless a spin lately found the CPU wanted by others.

    The lane asks :meth:`timeout` before each poll and reports each burst of events with
    :meth:`burst`. While spinning, :meth:`timeout` compares the wall time since its last call
    with the thread's CPU time: the difference is time the thread wanted its CPU and did not
    have it (the scheduler ran other tasks, or another thread held the GIL). More than ``lost``
    of it in one step ends the spin and every spin for ``backoff`` s.
    """

    __slots__ = ("_backoff", "_backoff_until", "_clock", "_cpu_clock", "_cpu_mark", "_lost", "_spin",
                 "_until", "_wall_mark", "lost_spins")

    def __init__(
        self, spin: float = SPIN, lost: float = SPIN_LOST, backoff: float = SPIN_BACKOFF,
        clock: Callable[[], float] = time.perf_counter, cpu_clock: Callable[[], float] = time.thread_time,
    ) -> None:
        self._spin = spin
        self._lost = lost
        self._backoff = backoff
        self._clock = clock
        self._cpu_clock = cpu_clock
        self._until = 0.0  # spinning until then
        self._backoff_until = 0.0  # no spinning until then
        self._wall_mark = self._cpu_mark = 0.0  # at the previous step of this spin
        self.lost_spins = 0  # spins ended because the CPU was wanted (for tests and figures)

    @property
    def spinning(self) -> bool:
        return self._until > 0.0

    def burst(self, small_read: bool) -> None:
        """A burst of events was handled; ``small_read``: it read a message, not a block."""
        if not small_read:
            return
        now = self._clock()
        if now < self._backoff_until:
            return
        if not self.spinning:  # a new spin: off-CPU time counts from here
            self._wall_mark, self._cpu_mark = now, self._cpu_clock()
        self._until = now + self._spin

    def timeout(self) -> float:
        """The next poll's timeout: 0 (spin) or -1 (block)."""
        if not self.spinning:
            return -1
        now, cpu = self._clock(), self._cpu_clock()
        off_cpu = (now - self._wall_mark) - (cpu - self._cpu_mark)
        if off_cpu > self._lost:
            self.lost_spins += 1
            self._backoff_until = now + self._backoff
            self._until = 0.0
            return -1
        if now >= self._until:
            self._until = 0.0
            return -1
        self._wall_mark, self._cpu_mark = now, cpu
        return 0

    def stop(self) -> None:
        """End the spin now (the lane holds bytes: it waits for a destination, not a message)."""
        self._until = 0.0


class Side(Enum):
    CLIENT = "client"
    SERVER = "server"


@dataclass(frozen=True, slots=True)
class Release:
    """What a connection leaving the lane must still do, in this order."""

    to_server: bytes = b""  # read from the client, not yet written to the server
    to_client: bytes = b""  # read from the server, not yet written to the client
    eof_from: Side | None = None  # the side whose read reached end of stream
    failed: bool = False  # a socket error: the connection must close
    hangup: bool = False  # a socket hung up or failed while bytes were held: the end is near


class LaneUser(Protocol):
    """A connection as the lane sees it; called back in the loop thread."""

    def lane_released(self, release: Release) -> None: ...


class _Flow:
    """One direction of an adopted connection."""

    __slots__ = ("dst", "mover", "side", "src", "traffic")

    def __init__(self, src: socket.socket, dst: socket.socket, side: Side, traffic: Traffic) -> None:
        self.src = src
        self.dst = dst
        self.side = side  # the side ``src`` belongs to
        self.traffic = traffic
        self.mover: Mover | None = None  # given by the lane on adoption; holds what dst refused


class _Adopted:
    __slots__ = ("down", "up", "user")

    def __init__(self, user: LaneUser, up: _Flow, down: _Flow) -> None:
        self.user = user
        self.up = up  # client -> server
        self.down = down  # server -> client


class _Command(Enum):
    ADOPT = "adopt"
    RELEASE = "release"
    STOP = "stop"


@dataclass(frozen=True, slots=True)
class _Request:
    command: _Command
    adopted: _Adopted | None = None
    users: tuple[LaneUser, ...] = ()
    done: concurrent.futures.Future[None] | None = None  # resolved by the lane once served


class FastLane:
    """One forwarding thread; ``start`` in the event loop, ``stop`` before the loop ends."""

    def __init__(self, spin: SpinPolicy | None = None) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._requests: collections.deque[_Request] = collections.deque()
        self._wake = -1
        self._epoll: select.epoll | None = None
        # the lane thread's own state:
        self._by_fd: dict[int, tuple[_Adopted, _Flow, _Flow]] = {}  # fd -> (conn, reads fd, writes fd)
        self._by_user: dict[LaneUser, _Adopted] = {}
        self._holding = 0  # flows holding bytes their destination refused
        self._small_read = False  # in the current burst of events
        self.spin = spin or SpinPolicy()  # the lane thread's to use; others may read lost_spins
        self._buffer = bytearray(BUFFER_SIZE)  # for flows that copy

    @property
    def running(self) -> bool:
        return self._thread is not None

    # -- the loop thread -------------------------------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._epoll = select.epoll()
        self._wake = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._epoll.register(self._wake, select.EPOLLIN)
        self._thread = threading.Thread(target=self._run, name="gameday-proxy-fastlane", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Release every connection, end the thread, close the lane's descriptors."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        await asyncio.wrap_future(self._call(_Command.STOP))
        await asyncio.to_thread(thread.join)
        assert self._epoll is not None
        self._epoll.close()
        os.close(self._wake)

    def adopt(
        self, user: LaneUser, client: socket.socket, server: socket.socket, up: Traffic, down: Traffic
    ) -> None:
        """Forward between two connected non-blocking sockets until released."""
        adopted = _Adopted(
            user, _Flow(client, server, Side.CLIENT, up), _Flow(server, client, Side.SERVER, down)
        )
        self._post(_Request(_Command.ADOPT, adopted=adopted))

    def release(self, users: list[LaneUser]) -> concurrent.futures.Future[None]:
        """Release those of ``users`` still in the lane; the future is resolved once the lane has
        stopped forwarding for them (their releases are then on their way to the loop)."""
        return self._call(_Command.RELEASE, tuple(users))

    def release_soon(self, user: LaneUser) -> None:
        self._post(_Request(_Command.RELEASE, users=(user,)))

    def _post(self, request: _Request) -> None:
        self._requests.append(request)
        os.eventfd_write(self._wake, 1)

    def _call(self, command: _Command, users: tuple[LaneUser, ...] = ()) -> concurrent.futures.Future[None]:
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._post(_Request(command, users=users, done=done))
        return done

    # -- the lane thread -------------------------------------------------------------------------
    def _run(self) -> None:
        assert self._epoll is not None
        poll = self._epoll.poll
        spin = self.spin
        while True:
            if self._holding:
                spin.stop()
            events = poll(spin.timeout())
            if not events:
                continue
            self._small_read = False
            for fd, mask in events:
                if fd != self._wake:
                    self._on_event(fd, mask)
                elif not self._serve_requests():
                    return
            spin.burst(self._small_read)

    def _serve_requests(self) -> bool:
        """Serve queued requests; False once told to stop."""
        os.eventfd_read(self._wake)
        while self._requests:
            request = self._requests.popleft()
            if request.adopted is not None:
                try:
                    self._adopt(request.adopted)
                except OSError:
                    self._hand_back(request.adopted, failed=True)
            users = list(self._by_user) if request.command is _Command.STOP else request.users
            for user in users:
                adopted = self._by_user.get(user)
                if adopted is not None:
                    self._hand_back(adopted)
            if request.done is not None:
                request.done.set_result(None)
            if request.command is _Command.STOP:
                return False
        return True

    def _answer(self, callback: Callable[[_T], None], argument: _T) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(callback, argument)

    def _adopt(self, adopted: _Adopted) -> None:
        assert self._epoll is not None
        self._by_user[adopted.user] = adopted
        for flow, other in ((adopted.up, adopted.down), (adopted.down, adopted.up)):
            flow.mover = new_mover(self._buffer)
            self._by_fd[flow.src.fileno()] = (adopted, flow, other)
            self._epoll.register(flow.src.fileno(), _READ)

    def _hand_back(
        self, adopted: _Adopted, eof_from: Side | None = None, failed: bool = False, hangup: bool = False
    ) -> None:
        """Stop watching the connection and give it, with what it holds, to the loop."""
        assert self._epoll is not None
        self._by_user.pop(adopted.user, None)
        for flow in (adopted.up, adopted.down):
            fd = flow.src.fileno()
            if self._by_fd.pop(fd, None) is not None:
                with contextlib.suppress(OSError):  # not registered: the adoption failed half way
                    self._epoll.unregister(fd)
        self._holding -= _held(adopted.up) + _held(adopted.down)
        release = Release(_take(adopted.up), _take(adopted.down), eof_from, failed, hangup)
        self._answer(adopted.user.lane_released, release)

    def _on_event(self, fd: int, mask: int) -> None:
        entry = self._by_fd.get(fd)
        if entry is None:
            return  # handed back earlier in this batch
        adopted, reading, writing = entry
        try:
            if mask & select.EPOLLOUT and _held(writing):
                self._flush(writing)
            if not mask & ~select.EPOLLOUT:
                return
            if not _held(reading):
                self._pump(adopted, reading)
            elif mask & (select.EPOLLHUP | select.EPOLLERR):
                self._hand_back(adopted, hangup=True)  # the loop delivers what is held, sees the end
        except Exception as exc:  # a socket error, or a bug that must not stop the lane
            if not isinstance(exc, OSError):
                logger.exception("fast lane: connection closed after an unexpected error")
            if adopted.user in self._by_user:
                self._hand_back(adopted, failed=True)

    def _pump(self, adopted: _Adopted, flow: _Flow) -> None:
        assert flow.mover is not None
        moved = flow.mover.move(flow.src, flow.dst, flow.traffic)
        if moved is None:
            return
        self._small_read |= moved.read <= SPIN_READ
        if moved.read == 0:
            self._hand_back(adopted, eof_from=flow.side)
        elif moved.held:
            self._holding += 1
            self._watch(flow)

    def _flush(self, flow: _Flow) -> None:
        assert flow.mover is not None
        if not flow.mover.flush(flow.dst, flow.traffic):
            self._holding -= 1
            self._watch(flow)

    def _watch(self, flow: _Flow) -> None:
        """While ``flow`` holds bytes, stop reading its source and wait for its destination."""
        assert self._epoll is not None
        holding = _held(flow)
        src_fd, dst_fd = flow.src.fileno(), flow.dst.fileno()
        _, _, into_src = self._by_fd[src_fd]
        self._epoll.modify(src_fd, (0 if holding else _READ) | (select.EPOLLOUT if _held(into_src) else 0))
        _, from_dst, _ = self._by_fd[dst_fd]
        self._epoll.modify(dst_fd, (0 if _held(from_dst) else _READ) | (select.EPOLLOUT if holding else 0))


def _held(flow: _Flow) -> bool:
    return flow.mover is not None and flow.mover.held > 0


def _take(flow: _Flow) -> bytes:
    """What the flow holds, and its mover closed."""
    mover, flow.mover = flow.mover, None
    if mover is None:
        return b""
    try:
        return mover.take()
    finally:
        mover.close()
