"""Lease validity arithmetic: trust = last successful renewal send time + TTL - margin."""

from __future__ import annotations

from typing import Any

import nats.errors
import nats.js.errors
import pytest

from trading_stack.lease import Lease, LeaseTrust

S = 1_000_000_000


class FakeClock:
    def __init__(self, now: int = 0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def test_not_trusted_before_any_renewal() -> None:
    assert not LeaseTrust(2.0, 0.5, FakeClock()).valid()


def test_trusted_until_send_time_plus_ttl_minus_margin() -> None:
    clock = FakeClock(10 * S)
    trust = LeaseTrust(ttl_s=2.0, safety_margin_s=0.5, clock=clock)
    trust.renewed(sent_ns=10 * S)
    clock.now = 10 * S + int(1.5 * S) - 1
    assert trust.valid()
    clock.now = 10 * S + int(1.5 * S)
    assert not trust.valid()


def test_trust_is_measured_from_send_time_not_answer_time() -> None:
    clock = FakeClock()
    trust = LeaseTrust(2.0, 0.5, clock)
    sent = 5 * S
    clock.now = sent + S  # the answer took a second
    trust.renewed(sent)
    assert trust.remaining_s() == pytest.approx(0.5)


def test_an_older_renewal_never_shortens_trust_and_revoke_ends_it() -> None:
    clock = FakeClock(0)
    trust = LeaseTrust(2.0, 0.5, clock)
    trust.renewed(3 * S)
    trust.renewed(1 * S)
    assert trust.trusted_until_ns == 3 * S + int(1.5 * S)
    trust.revoke()
    assert not trust.valid()


def test_margin_must_be_shorter_than_ttl() -> None:
    with pytest.raises(ValueError, match="safety margin"):
        LeaseTrust(1.0, 1.0, FakeClock())


class KeyExpiringDuringCreate:
    """A bucket whose key expires between nats-py's refused create and its follow-up read."""

    def __init__(self) -> None:
        self.creates = 0

    async def status(self) -> Any:
        raise nats.errors.TimeoutError

    async def create(self, key: str, value: bytes) -> int:
        self.creates += 1
        if self.creates == 1:
            raise nats.js.errors.KeyNotFoundError
        return 7


async def test_a_key_expiring_during_create_loses_this_attempt_not_the_acquire_loop() -> None:
    kv = KeyExpiringDuringCreate()
    lease = Lease(kv, "b", ttl_s=1.0, safety_margin_s=0.3)
    assert not await lease.try_acquire()
    assert not lease.held
    assert await lease.try_acquire()
    assert lease.held
    assert lease.epoch == 7
