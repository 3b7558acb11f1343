"""The lease bucket's writes as history ops, and the stack telling the recorder which bucket to watch."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from gameday.checkers.records import LeaseOperation, LeaseWrite, parse
from gameday.history import History, OpKind
from gameday.recorder import LeaseBucket, LeaseWatcher, NatsRecorder, record_lease_write
from gameday.stack.rundir import RunDir
from gameday.stack.settings import StackSettings
from reference_target.local import LocalStack

LEASE = LeaseBucket(bucket="oms_lease", ttl_s=2.0)


def test_a_stored_put_is_recorded_with_its_value_bucket_and_ttl() -> None:
    history = History()
    data = json.dumps({"instance": "oms-dr", "epoch": 3, "t_ns": 123}).encode()

    op = record_lease_write(history, LEASE, "$KV.oms_lease.active", data, None, revision=7)

    assert (op.kind, op.process, op.f) == (OpKind.SUT, "$KV.oms_lease.active", "lease")
    assert op.value == {"key": "active", "op": "PUT", "instance": "oms-dr", "epoch": 3, "t_ns": 123,
                        "revision": 7, "bucket": "oms_lease", "ttl_s": 2.0}
    assert parse(LeaseWrite, op).op is LeaseOperation.PUT


def test_a_delete_or_purge_is_recorded_from_its_header_without_a_holder() -> None:
    history = History()

    deleted = record_lease_write(history, LEASE, "$KV.oms_lease.active", b"", {"KV-Operation": "DEL"})
    purged = record_lease_write(history, LEASE, "$KV.oms_lease.stepdown", b"",
                                {"KV-Operation": "PURGE", "Nats-Rollup": "sub"})

    assert (deleted.value["op"], deleted.value["instance"], deleted.value["t_ns"]) == ("DEL", None, None)
    assert (purged.value["key"], parse(LeaseWrite, purged).op) == ("stepdown", LeaseOperation.PURGE)


def test_a_value_that_is_not_the_leases_names_no_holder() -> None:
    op = record_lease_write(History(), LEASE, "$KV.oms_lease.active", b"not json", None)

    assert (op.value["op"], op.value["instance"]) == ("PUT", None)


def test_the_recorder_can_watch_a_lease() -> None:
    assert isinstance(NatsRecorder("nats://127.0.0.1:1", History()), LeaseWatcher)
    assert LEASE.subject == "$KV.oms_lease.>"
    assert LEASE.stream == "KV_oms_lease"


class _Watcher:
    def __init__(self) -> None:
        self.leases: list[LeaseBucket] = []

    async def watch_lease(self, lease: LeaseBucket) -> None:
        self.leases.append(lease)


class _NatsOnlyStack(LocalStack):
    async def _start(self) -> None:
        self.endpoints.nats = "nats://127.0.0.1:4222"
        await self._nats_ready()

    async def _stop_all(self) -> None:
        pass


def _observer(entered: object) -> Callable[[str], AbstractAsyncContextManager[object]]:
    @asynccontextmanager
    async def observe(url: str) -> AsyncIterator[object]:
        yield entered

    return observe


async def test_the_stack_tells_an_observer_that_can_watch_it_its_lease_bucket(tmp_path: Path) -> None:
    watcher, plain = _Watcher(), object()
    stack = _NatsOnlyStack(StackSettings(run_dir=RunDir(tmp_path, "s"), seed=1))
    stack.observe_nats(_observer(watcher))
    stack.observe_nats(_observer(plain))

    async with stack:
        described = stack.describe()

    assert watcher.leases == [LeaseBucket(bucket="oms_lease", ttl_s=2.0)]
    assert described["lease"] == {"bucket": "oms_lease", "ttl_s": 2.0}
