"""The OMS's event publisher: in order on the wire, many acknowledgements outstanding, failures resent."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import nats.errors

from trading_stack.events import PUBLISH_WINDOW, EventPublisher


class FakeJetStream:
    """Records what was sent; acknowledges only when the test says so."""

    def __init__(self, expect: int) -> None:
        self.sent: list[dict[str, Any]] = []
        self.acks: list[asyncio.Future[Any]] = []
        self.resent: list[dict[str, Any]] = []
        self.expect = expect
        self.reached = asyncio.Event()

    async def publish_async(self, subject: str, data: bytes) -> asyncio.Future[Any]:
        self.sent.append(json.loads(data))
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.acks.append(ack)
        if len(self.sent) >= self.expect:
            self.reached.set()
        return ack

    async def publish(self, subject: str, data: bytes) -> None:
        self.resent.append(json.loads(data))

    def ack_all(self) -> None:
        for ack in self.acks:
            if not ack.done():
                ack.set_result(None)


def publisher(js: FakeJetStream) -> EventPublisher:
    return EventPublisher(js, "oms", "oms-blue", clock=lambda: 0)  # type: ignore[arg-type]


async def test_a_window_of_messages_goes_out_in_order_before_the_first_acknowledgement() -> None:
    js = FakeJetStream(expect=PUBLISH_WINDOW)
    events = publisher(js)
    for n in range(PUBLISH_WINDOW + 5):
        events.alert("A", {"n": n})
    task = asyncio.create_task(events.run())
    await asyncio.wait_for(js.reached.wait(), 1.0)
    await asyncio.sleep(0.01)
    assert len(js.sent) == PUBLISH_WINDOW  # the window is full: nothing more until an ack
    assert [m["detail"]["n"] for m in js.sent] == list(range(PUBLISH_WINDOW))
    js.expect, js.reached = PUBLISH_WINDOW + 5, asyncio.Event()
    js.ack_all()
    await asyncio.wait_for(js.reached.wait(), 1.0)
    js.ack_all()
    await events.flush(1.0)
    assert (events.published, events.backlog, js.resent) == (PUBLISH_WINDOW + 5, 0, [])
    task.cancel()


async def test_a_message_the_stream_refused_is_sent_again_before_flush_returns() -> None:
    js = FakeJetStream(expect=2)
    events = publisher(js)
    task = asyncio.create_task(events.run())
    events.alert("first", {})
    events.alert("second", {})
    await asyncio.wait_for(js.reached.wait(), 1.0)
    js.acks[0].set_exception(nats.errors.TimeoutError())
    js.acks[1].set_result(None)
    await events.flush(1.0)
    assert events.published == 2
    assert [m["alert"] for m in js.resent] == ["first"]
    task.cancel()


async def test_acknowledgements_lost_in_a_partition_are_given_up_together_not_one_timeout_each(
        monkeypatch: Any) -> None:
    monkeypatch.setattr("trading_stack.events.ACK_TIMEOUT_S", 0.2)
    lost = 20
    js = FakeJetStream(expect=lost)
    events = publisher(js)
    task = asyncio.create_task(events.run())
    for n in range(lost):
        events.alert("A", {"n": n})
    await asyncio.wait_for(js.reached.wait(), 1.0)  # none of them is ever acknowledged
    loop = asyncio.get_running_loop()
    started = loop.time()
    await events.flush(3.0)
    took = loop.time() - started
    assert events.published == lost
    assert [m["detail"]["n"] for m in js.resent] == list(range(lost))  # resent, in order
    assert took < 0.2 * 3, f"{took:.2f}s: the lost acknowledgements were waited out one after another"
    task.cancel()
