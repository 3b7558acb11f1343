"""Records the system under test's own events (NATS ``<prefix>.>``) into the history.

Every message becomes a ``sut``/``info`` op: ``process`` is the subject, ``f`` its last token
(``oms.failover`` -> ``failover``, ``oms.looplag`` -> ``looplag``), ``value`` the JSON body. The
runner hands the recorder to the stack (``LocalStack.observe_nats``), which starts it as soon as
NATS is ready and before any OMS or daemon starts, so their first messages are not missed.

A stack that declares its lease bucket (:class:`LeaseBucket`) hands it to :meth:`NatsRecorder.watch_lease`:
every write the bucket *stored* (create, update, delete, purge) becomes a ``sut`` op with ``f`` =
``lease`` (:func:`record_lease_write`). The writes are read from the bucket's stream with an ordered
JetStream consumer, not from a plain subscription to ``$KV.<bucket>.>``: a plain subscriber also
receives the writes the bucket refused (a ``create`` while the key is alive, an ``update`` with a
stale revision), which would name holders that never held the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

import nats
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from gameday.history import History, Op, OpKind, OpType

__all__ = ["LEASE_F", "LeaseBucket", "LeaseWatcher", "NatsRecorder", "record_lease_write", "record_message"]

LEASE_F = "lease"
KV_OPERATION_HEADER = "KV-Operation"
PUT = "PUT"
BIND_RETRY_S = 0.05
"""How often the recorder tries to bind to the lease bucket's stream until an OMS has created it."""


@dataclass(frozen=True)
class LeaseBucket:
    """The JetStream KV bucket a stack keeps its lease in, and the bucket's TTL (= the lease TTL)."""

    bucket: str
    ttl_s: float

    @property
    def stream(self) -> str:
        return f"KV_{self.bucket}"

    @property
    def subject(self) -> str:
        return f"$KV.{self.bucket}.>"

    def describe(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "ttl_s": self.ttl_s}


@runtime_checkable
class LeaseWatcher(Protocol):
    """An observer that can also record the writes of the stack's lease bucket."""

    async def watch_lease(self, lease: LeaseBucket) -> None: ...


def record_message(history: History, subject: str, data: bytes) -> Op:
    """One SUT message as a history op; a body that is not a JSON object is kept, wrapped."""
    try:
        value: Any = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        value = {"raw": data.decode(errors="replace")}
    if not isinstance(value, dict):
        value = {"value": value}
    return history.append(OpKind.SUT, OpType.INFO, subject, subject.rsplit(".", 1)[-1], value)


def record_lease_write(history: History, lease: LeaseBucket, subject: str, data: bytes,
                       headers: Mapping[str, str] | None, revision: int | None = None) -> Op:
    """One stored write of the lease bucket as a ``sut`` op ``lease``.

    ``value``: ``key``, ``op`` (``PUT``, or the ``KV-Operation`` header: ``DEL``/``PURGE``), the
    written value's ``instance``, ``epoch`` and ``t_ns`` (the writer's send time; ``None`` on a
    delete or a value that is not the lease's), the ``revision``, ``bucket`` and ``ttl_s``.
    """
    try:
        body: Any = json.loads(data) if data else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = {}
    body = body if isinstance(body, dict) else {}
    value = {
        "key": subject.removeprefix(f"$KV.{lease.bucket}."),
        "op": (headers or {}).get(KV_OPERATION_HEADER, PUT),
        "instance": body.get("instance"),
        "epoch": body.get("epoch"),
        "t_ns": body.get("t_ns"),
        "revision": revision,
        **lease.describe(),
    }
    return history.append(OpKind.SUT, OpType.INFO, subject, LEASE_F, value)


class NatsRecorder:
    """``async with NatsRecorder(url, history):`` records every message until the block ends."""

    def __init__(self, url: str, history: History, subject_prefix: str = "oms",
                 extra_prefixes: Sequence[str] = ()) -> None:
        self._url = url
        self._history = history
        self._subjects = [f"{prefix}.>" for prefix in (subject_prefix, *extra_prefixes)]
        self._client: Client | None = None
        self._binding: set[asyncio.Task[None]] = set()
        self.lease_bound = asyncio.Event()  # the lease bucket's stream is being read

    async def __aenter__(self) -> NatsRecorder:
        self._client = await nats.connect(self._url, name="gameday-recorder", max_reconnect_attempts=-1,
                                          reconnect_time_wait=0.2)
        for subject in self._subjects:
            await self._client.subscribe(subject, cb=self._record)
        await self._client.flush()  # the server has every subscription before anyone publishes
        return self

    async def _record(self, msg: Msg) -> None:
        record_message(self._history, msg.subject, msg.data)

    async def watch_lease(self, lease: LeaseBucket) -> None:
        """Record the bucket's stored writes from now on; binds as soon as the bucket exists
        (an OMS creates it at start-up), trying every :data:`BIND_RETRY_S` until then."""
        task = asyncio.create_task(self._bind_lease(lease), name=f"record-{lease.subject}")
        self._binding.add(task)
        task.add_done_callback(self._bound)

    def _bound(self, task: asyncio.Task[None]) -> None:
        """A binding that failed for good leaves the lease unrecorded (checkers fall back), never the run."""
        self._binding.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: asyncio does not report it at garbage collection

    async def _bind_lease(self, lease: LeaseBucket) -> None:
        assert self._client is not None
        js = self._client.jetstream()

        async def record(msg: Msg) -> None:
            record_lease_write(self._history, lease, msg.subject, msg.data, msg.headers,
                               msg.metadata.sequence.stream)

        while True:
            try:  # every retained write first (at most one per key), then each new one as stored
                await js.subscribe(lease.subject, stream=lease.stream, cb=record, ordered_consumer=True)
                self.lease_bound.set()
                return
            except (nats.errors.Error, TimeoutError):
                await asyncio.sleep(BIND_RETRY_S)

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        for task in list(self._binding):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            try:
                await self._client.drain()
            except Exception:
                await self._client.close()
            self._client = None
