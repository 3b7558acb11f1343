"""Records the system under test's own events (NATS ``<prefix>.>``) into the history.

Every message becomes a ``sut``/``info`` op: ``process`` is the subject, ``f`` its last token
(``oms.failover`` -> ``failover``, ``oms.looplag`` -> ``looplag``), ``value`` the JSON body. The
runner hands the recorder to the stack (``LocalStack.observe_nats``), which starts it as soon as
NATS is ready and before any OMS or daemon starts, so their first messages are not missed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg

from gameday.history import History, Op, OpKind, OpType

__all__ = ["NatsRecorder", "record_message"]


def record_message(history: History, subject: str, data: bytes) -> Op:
    """One SUT message as a history op; a body that is not a JSON object is kept, wrapped."""
    try:
        value: Any = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        value = {"raw": data.decode(errors="replace")}
    if not isinstance(value, dict):
        value = {"value": value}
    return history.append(OpKind.SUT, OpType.INFO, subject, subject.rsplit(".", 1)[-1], value)


class NatsRecorder:
    """``async with NatsRecorder(url, history):`` records every message until the block ends."""

    def __init__(self, url: str, history: History, subject_prefix: str = "oms",
                 extra_prefixes: Sequence[str] = ()) -> None:
        self._url = url
        self._history = history
        self._subjects = [f"{prefix}.>" for prefix in (subject_prefix, *extra_prefixes)]
        self._client: Client | None = None

    async def __aenter__(self) -> NatsRecorder:
        self._client = await nats.connect(self._url, name="gameday-recorder", max_reconnect_attempts=-1,
                                          reconnect_time_wait=0.2)
        for subject in self._subjects:
            await self._client.subscribe(subject, cb=self._record)
        await self._client.flush()  # the server has every subscription before anyone publishes
        return self

    async def _record(self, msg: Msg) -> None:
        record_message(self._history, msg.subject, msg.data)

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._client is not None:
            try:
                await self._client.drain()
            except Exception:
                await self._client.close()
            self._client = None
