"""The active lease in a JetStream KV bucket, and how long its holder may trust it.

Acquire = ``create`` (never overwrite a live key: the previous holder's key must expire by
the bucket TTL first); renew = ``update(last=revision)``. The holder trusts the lease only
until ``send time of the last successful renewal + TTL - safety margin``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig

from trading_stack.clock import MonotonicNs, monotonic_ns, seconds_to_ns

log = logging.getLogger(__name__)

LEASE_KEY = "active"
STEPDOWN_KEY = "stepdown"


class LeaseTrust:
    """Pure arithmetic of lease validity against an injected monotonic clock."""

    def __init__(self, ttl_s: float, safety_margin_s: float, clock: MonotonicNs = monotonic_ns) -> None:
        if safety_margin_s >= ttl_s:
            raise ValueError("the safety margin must be shorter than the lease TTL")
        self._window_ns = seconds_to_ns(ttl_s - safety_margin_s)
        self._clock = clock
        self._trusted_until_ns: int | None = None

    def renewed(self, sent_ns: int) -> None:
        """A create/update sent at ``sent_ns`` succeeded."""
        until = sent_ns + self._window_ns
        if self._trusted_until_ns is None or until > self._trusted_until_ns:
            self._trusted_until_ns = until

    def revoke(self) -> None:
        self._trusted_until_ns = None

    @property
    def trusted_until_ns(self) -> int | None:
        return self._trusted_until_ns

    def valid(self, now_ns: int | None = None) -> bool:
        if self._trusted_until_ns is None:
            return False
        now = self._clock() if now_ns is None else now_ns
        return now < self._trusted_until_ns

    def remaining_s(self, now_ns: int | None = None) -> float:
        if self._trusted_until_ns is None:
            return 0.0
        now = self._clock() if now_ns is None else now_ns
        return max(0.0, (self._trusted_until_ns - now) / 1e9)


class LeaseLost(RuntimeError):
    """A renewal failed: another holder, a timeout, or NATS unreachable."""


class LeaseGivenUp(LeaseLost):
    """The holder gave the lease up (released or fenced) while a renewal was in flight: not a loss."""


@dataclass(frozen=True)
class LeaseValue:
    instance: str
    epoch: int
    t_ns: int

    def encode(self) -> bytes:
        return json.dumps({"instance": self.instance, "epoch": self.epoch, "t_ns": self.t_ns}).encode()

    @staticmethod
    def decode(raw: bytes) -> LeaseValue:
        data: dict[str, Any] = json.loads(raw)
        return LeaseValue(instance=str(data["instance"]), epoch=int(data["epoch"]), t_ns=int(data["t_ns"]))


async def lease_bucket(js: JetStreamContext, bucket: str, ttl_s: float) -> Any:
    """Bind to the lease bucket, creating it (history 1, TTL = lease TTL) if absent."""
    try:
        return await js.key_value(bucket)
    except nats.js.errors.BucketNotFoundError:
        pass
    try:
        return await js.create_key_value(KeyValueConfig(bucket=bucket, history=1, ttl=ttl_s))
    except nats.js.errors.APIError:
        return await js.key_value(bucket)  # created concurrently by the other instance


class Lease:
    """One instance's handle on the lease key."""

    def __init__(
        self,
        kv: Any,
        instance: str,
        ttl_s: float,
        safety_margin_s: float,
        clock: MonotonicNs = monotonic_ns,
        request_timeout_s: float = 1.0,
    ) -> None:
        self._kv = kv
        self._instance = instance
        self._clock = clock
        self._timeout_s = request_timeout_s
        self.trust = LeaseTrust(ttl_s, safety_margin_s, clock)
        self._revision: int | None = None
        self._epoch = 0
        # the renewer runs on a thread of its own (LeaseKeeper): a renewal in flight when the
        # lease is given up locally must not bring it back
        self._state_lock = threading.Lock()
        self._generation = 0

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def held(self) -> bool:
        return self._revision is not None

    def valid(self) -> bool:
        return self._revision is not None and self.trust.valid()

    def _commit(self, generation: int, revision: int, sent_ns: int) -> bool:
        with self._state_lock:
            if generation != self._generation:
                return False
            self._revision = revision
            self.trust.renewed(sent_ns)
            return True

    async def try_acquire(self, kv: Any = None) -> bool:
        """One ``create`` attempt; False while someone else's key is alive.

        nats-py's ``create`` answers a refused create by reading the key, to tell a live
        key from a deleted one. When the key expires between the two requests, that read
        raises ``KeyNotFoundError``: the key was alive when we asked, so this attempt lost
        and the next one may win.
        """
        kv = kv if kv is not None else self._kv
        generation = self._generation
        sent = self._clock()
        epoch = await self._next_epoch(kv)
        value = LeaseValue(self._instance, epoch, sent).encode()
        try:
            async with asyncio.timeout(self._timeout_s):
                revision = await kv.create(LEASE_KEY, value)
        except (nats.js.errors.KeyWrongLastSequenceError, nats.js.errors.KeyNotFoundError):
            return False
        self._epoch = max(epoch, int(revision))
        if not self._commit(generation, int(revision), sent):
            return False
        log.info("lease acquired epoch=%d revision=%d", self._epoch, self._revision)
        return True

    async def renew(self, kv: Any = None) -> None:
        """``update(last=revision)``; raises LeaseLost on any failure.

        ``kv``: the bucket bound on the caller's own connection (the keeper's thread).
        A renewal that succeeds after the lease was released locally is not taken.
        """
        kv = kv if kv is not None else self._kv
        generation, last = self._generation, self._revision
        if last is None:
            raise LeaseLost("lease not held")
        sent = self._clock()
        value = LeaseValue(self._instance, self._epoch, sent).encode()
        timeout = max(0.05, min(self._timeout_s, self.trust.remaining_s()))
        try:
            async with asyncio.timeout(timeout):
                revision = await kv.update(LEASE_KEY, value, last=last)
        except (TimeoutError, nats.errors.Error) as err:
            if generation != self._generation:
                raise LeaseGivenUp("given up while a renewal was in flight") from err
            self.release_local()
            raise LeaseLost(f"renewal failed: {type(err).__name__}: {err}") from err
        if not self._commit(generation, int(revision), sent):
            raise LeaseGivenUp("given up while a renewal was in flight")

    async def release(self) -> None:
        """Delete the key if it is still our revision (clean shutdown, a step-down, a park).

        Trust ends first: nothing is sent under a lease being given up, and a renewal in flight
        meanwhile is not mistaken for a lost lease.
        """
        revision = self._revision
        if revision is None:
            return
        self.release_local()
        async with asyncio.timeout(self._timeout_s):
            await self._kv.delete(LEASE_KEY, last=revision)

    def release_local(self) -> None:
        """Forget the lease locally (fencing); the key expires by TTL."""
        with self._state_lock:
            self._generation += 1
            self._revision = None
            self.trust.revoke()

    async def current_holder(self) -> LeaseValue | None:
        try:
            async with asyncio.timeout(self._timeout_s):
                entry = await self._kv.get(LEASE_KEY)
        except nats.js.errors.KeyNotFoundError:
            return None
        return LeaseValue.decode(entry.value) if entry.value else None

    async def request_stepdown(self) -> None:
        """Ask the holder to step down if it cannot serve (expires with the bucket TTL)."""
        value = json.dumps({"instance": self._instance, "t_ns": self._clock()}).encode()
        async with asyncio.timeout(self._timeout_s):
            await self._kv.put(STEPDOWN_KEY, value)

    async def stepdown_requester(self) -> str | None:
        """The instance currently asking the holder to step down, if any."""
        try:
            async with asyncio.timeout(self._timeout_s):
                entry = await self._kv.get(STEPDOWN_KEY)
        except nats.js.errors.KeyNotFoundError:
            return None
        if not entry.value:
            return None
        requester = json.loads(entry.value).get("instance")
        return str(requester) if requester else None

    async def _next_epoch(self, kv: Any) -> int:
        """Epoch = the revision our create will get (the bucket stream's last seq + 1).

        The stream sequence survives expiry, so epochs strictly increase across holders;
        the acquired revision is the epoch (a concurrent step-down request may move it).
        """
        try:
            async with asyncio.timeout(self._timeout_s):
                status = await kv.status()
            return int(status.stream_info.state.last_seq) + 1
        except (TimeoutError, nats.errors.Error, AttributeError):
            return self._epoch + 1
