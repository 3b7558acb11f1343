"""The lease renewer on a thread of its own, with its own event loop and NATS connection.

Nothing the OMS's event loop does (orders, reconciliation, database work, a long parse) can
delay a renewal: the OMS's loop acquires the lease and reads its trust deadline at send time;
the keeper renews it and reports a lost lease back through ``call_soon_threadsafe``. A process
that is stopped as a whole (SIGSTOP) stops the keeper too, as it must: trust then runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from nats.aio.client import Client as NatsClient

from trading_stack.events import connect_nats
from trading_stack.lease import Lease, LeaseGivenUp, LeaseLost, lease_bucket

log = logging.getLogger(__name__)

IDLE_POLL_S = 0.05


class LeaseKeeper:
    """Renews ``lease`` every ``interval_s`` while it is held; ``on_lost(reason)`` runs on ``loop``.

    ``keep_acquiring`` (the ``no-fencing`` defect only): after a loss, keep trying to take the
    lease back instead of leaving it to the OMS.
    """

    def __init__(self, lease: Lease, nats_url: str, bucket: str, ttl_s: float, interval_s: float,
                 on_lost: Callable[[str], None], loop: asyncio.AbstractEventLoop, name: str,
                 keep_acquiring: bool = False) -> None:
        self._lease = lease
        self._nats_url = nats_url
        self._bucket = bucket
        self._ttl_s = ttl_s
        self._interval_s = interval_s
        self._on_lost = on_lost
        self._owner_loop = loop
        self._name = name
        self._keep_acquiring = keep_acquiring
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._thread_main, name=f"lease-keeper-{name}", daemon=True)
        self.renewals = 0
        self.worst_renewal_ms = 0.0  # a renewal's round trip, from the keeper's thread

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        self._thread.start()

    async def stop(self, timeout_s: float = 3.0) -> None:
        """Stop renewing and wait for the thread (its connection closed) without blocking the loop."""
        self._stopping.set()
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join, timeout_s)

    # -- the keeper's thread ---------------------------------------------------------------
    def _thread_main(self) -> None:
        try:
            asyncio.run(self._run())
        except Exception:
            log.exception("lease keeper stopped by an error")

    async def _run(self) -> None:
        nc = await self._connect()
        if nc is None:
            return
        try:
            kv = await self._bind(nc)
            if kv is not None:
                self._connected.set()
                await self._keep(kv)
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await nc.close()

    async def _connect(self) -> NatsClient | None:
        connecting = asyncio.ensure_future(connect_nats(self._nats_url, name=f"lease-{self._name}"))
        while not connecting.done():
            if self._stopping.is_set():
                connecting.cancel()
                await asyncio.gather(connecting, return_exceptions=True)
                return None
            await asyncio.wait({connecting}, timeout=IDLE_POLL_S)
        return connecting.result()

    async def _bind(self, nc: NatsClient) -> Any:
        js = nc.jetstream(timeout=1.0)
        while not self._stopping.is_set():
            try:
                return await lease_bucket(js, self._bucket, self._ttl_s)
            except Exception as err:
                log.warning("lease keeper: bucket %s not bound (%s); retrying", self._bucket, err)
                await asyncio.sleep(0.2)
        return None

    async def _keep(self, kv: Any) -> None:
        lease = self._lease
        while not self._stopping.is_set():
            if not lease.held:
                await asyncio.sleep(IDLE_POLL_S if not self._keep_acquiring else self._interval_s)
                if self._keep_acquiring and not lease.held:
                    with contextlib.suppress(Exception):
                        await lease.try_acquire(kv)
                continue
            await self._wait_for_renewal_time()
            if self._stopping.is_set() or not lease.held:
                continue
            if not lease.trust.valid():
                lease.release_local()
                self._lost("lease expired before it could be renewed")
                continue
            started = asyncio.get_running_loop().time()
            try:
                await lease.renew(kv)
                self.renewals += 1
                took_ms = (asyncio.get_running_loop().time() - started) * 1e3
                self.worst_renewal_ms = max(self.worst_renewal_ms, took_ms)
            except LeaseGivenUp:
                continue
            except LeaseLost as err:
                self._lost(str(err))

    async def _wait_for_renewal_time(self) -> None:
        """Sleep until the next renewal is due, in short steps so a stop is seen at once."""
        loop = asyncio.get_running_loop()
        due = loop.time() + max(0.0, min(self._interval_s, self._lease.trust.remaining_s()))
        while not self._stopping.is_set() and self._lease.held:
            left = due - loop.time()
            if left <= 0:
                return
            await asyncio.sleep(min(left, IDLE_POLL_S))

    def _lost(self, reason: str) -> None:
        if self._stopping.is_set():
            return
        with contextlib.suppress(RuntimeError):  # the OMS's loop already closed
            self._owner_loop.call_soon_threadsafe(self._on_lost, reason)
