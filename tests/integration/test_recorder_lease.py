"""The recorder against a real nats-server: the lease bucket's stored writes only, bound once it exists."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import nats
import nats.js.errors
import pytest
from nats.js.api import KeyValueConfig

from gameday.history import History
from gameday.recorder import LeaseBucket, NatsRecorder
from tests.integration.test_oms_support import nats_server, wait_until

pytestmark = pytest.mark.integration


def _value(instance: str) -> bytes:
    return json.dumps({"instance": instance, "epoch": 1, "t_ns": 1}).encode()


async def test_stored_writes_are_recorded_and_refused_ones_are_not(tmp_path: Path) -> None:
    history = History()
    async with nats_server(tmp_path) as url, NatsRecorder(url, history) as recorder:
        await recorder.watch_lease(LeaseBucket(bucket="oms_lease", ttl_s=2.0))
        await asyncio.sleep(0.2)  # the bucket does not exist yet: the recorder keeps trying to bind
        client = await nats.connect(url)
        try:
            config = KeyValueConfig(bucket="oms_lease", history=1, ttl=2.0)
            kv = await client.jetstream().create_key_value(config)
            await asyncio.wait_for(recorder.lease_bound.wait(), 5)  # bound before the first write:
            # the bucket keeps one write per key, so writes made before binding are not all replayed
            revision = await kv.create("active", _value("a"))
            with pytest.raises(nats.js.errors.KeyWrongLastSequenceError):
                await kv.create("active", _value("b"))  # a plain subscriber would see this one
            with pytest.raises(nats.js.errors.KeyWrongLastSequenceError):
                await kv.update("active", _value("b"), last=revision + 10)
            await kv.update("active", _value("a"), last=revision)
            await kv.delete("active")
            await wait_until(lambda: len(history.ops) >= 3, 5, "three stored writes recorded")
            await asyncio.sleep(0.2)
        finally:
            await client.close()

    writes = [(op.value["op"], op.value["instance"]) for op in history.ops if op.f == "lease"]
    assert writes == [("PUT", "a"), ("PUT", "a"), ("DEL", None)]
    assert [op.value["revision"] for op in history.ops] == [1, 2, 3]
