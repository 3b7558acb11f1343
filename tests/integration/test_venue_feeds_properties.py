"""Property tests (issue 16): whatever a client sends a feed, it gets protocol frames back (an error
for what it cannot act on, snapshots for what it can) or, for a frame over 64 KiB, a close 1009;
never a crash, an internal error or a log line. Whatever feed fault parameters the admin API is
sent, it answers 200 or 400, the feeds keep publishing finite prices, and the ledger holds only
strict JSON.

Each test runs one venue on its own event loop and drives it from a synchronous hypothesis body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mock_exchange.faults import FEED_FAULT_TYPES
from mock_exchange.md.server import MAX_FRAME_BYTES
from mock_exchange.venue import Venue
from tests.integration.test_venue_feeds import feed_venue_config

pytestmark = pytest.mark.integration

SETTINGS = settings(
    max_examples=150,
    deadline=timedelta(seconds=5),
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TIMEOUT_S = 5.0
SYMBOL_NAMES = st.sampled_from(["BTC-USD", "ETH-USD", "DOGE-USD", "", "x" * 200])
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), ANY_FLOAT, st.text(max_size=12))
VALUES = st.recursive(
    SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner,
                                                                                  max_size=3)),
    max_leaves=8,
)
REQUESTS = st.fixed_dictionaries(
    {"op": st.one_of(st.sampled_from(["subscribe", "snapshot", "unsubscribe", "SUBSCRIBE"]), VALUES)},
    optional={"symbols": st.one_of(st.lists(SYMBOL_NAMES, max_size=4), VALUES), "id": VALUES},
)
TEXTS = st.one_of(
    REQUESTS.map(json.dumps),
    VALUES.map(json.dumps),  # NaN and Infinity too, as Python writes them
    st.text(max_size=200),
    st.sampled_from(["{", "[" * 10_000, '{"op": "subscribe", "symbols": [' * 500, "\x00", "null"]),
)
FRAMES = st.one_of(
    TEXTS.map(lambda text: ("text", text)),
    st.binary(max_size=64).map(lambda data: ("binary", data)),
    st.just(("text", json.dumps({"op": "snapshot", "pad": "x" * MAX_FRAME_BYTES}))),
)
FRAME_TYPES = {"snapshot", "update", "heartbeat", "error"}


def strict(text: str) -> Any:
    def refuse(name: str) -> float:
        raise AssertionError(f"{name} in JSON")

    return json.loads(text, parse_constant=refuse)


def assert_protocol_frame(frame: dict[str, Any]) -> None:
    assert frame["type"] in FRAME_TYPES, frame
    assert frame["feed"] == "A"
    if frame["type"] == "error":
        assert set(frame) == {"type", "feed", "error"}
        assert isinstance(frame["error"], str)
        assert len(frame["error"]) < 1_000
        return
    assert isinstance(frame["seq"], int)
    assert isinstance(frame["sent_ns"], int)
    if frame["type"] in ("snapshot", "update"):
        assert frame["symbol"] in ("BTC-USD", "ETH-USD")
        assert all(math.isfinite(frame[key]) and frame[key] > 0 for key in ("bid", "ask", "last"))


@contextlib.contextmanager
def running_venue(tmp_path: Path) -> Iterator[tuple[asyncio.Runner, Venue]]:
    with asyncio.Runner() as runner:
        venue = Venue(feed_venue_config(tmp_path))
        runner.run(venue.start())
        try:
            yield runner, venue
        finally:
            runner.run(venue.stop())


async def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession()


MARKER = json.dumps({"op": "snapshot", "symbols": ["ETH-USD"]})


def test_no_client_frames_crash_the_feed_or_cost_more_than_their_connection(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with running_venue(tmp_path) as (runner, venue), caplog.at_level(logging.WARNING, logger="mock_exchange"):
        http = runner.run(_session())
        url = f"ws://127.0.0.1:{venue.feed_ports['A']}/md"

        async def exercise(frames: list[tuple[str, Any]]) -> None:
            async with http.ws_connect(url) as ws:
                for kind, data in frames:
                    await (ws.send_str(data) if kind == "text" else ws.send_bytes(data))
                await ws.send_str(MARKER)
                too_big = any(kind == "text" and len(data.encode()) > MAX_FRAME_BYTES
                              for kind, data in frames)
                await _read_answers(ws, closed_with=aiohttp.WSCloseCode.MESSAGE_TOO_BIG if too_big else None)

        @SETTINGS
        @given(st.lists(FRAMES, min_size=1, max_size=3))
        @example([("text", '{"op": "subscribe", "symbols": ["BTC-USD", "BTC-USD"]}')])
        @example([("text", '{"op": "snapshot", "symbols": [NaN]}')])
        @example([("binary", b"\xff\xfe")])
        def check(frames: list[tuple[str, Any]]) -> None:
            runner.run(exercise(frames))

        try:
            check()
        finally:
            runner.run(http.close())
    assert [record.getMessage() for record in caplog.records] == []


async def _read_answers(ws: aiohttp.ClientWebSocketResponse, *, closed_with: int | None) -> None:
    """Read until the marker's snapshot (or, for a frame over the limit, the close); check each frame."""
    async with asyncio.timeout(TIMEOUT_S):
        while True:
            message = await ws.receive()
            if closed_with is not None and message.type is aiohttp.WSMsgType.CLOSE:
                assert message.data == closed_with
                return
            assert message.type is aiohttp.WSMsgType.TEXT, message
            frame = strict(message.data)
            assert_protocol_frame(frame)
            if frame["type"] == "snapshot" and frame["symbol"] == "ETH-USD" and closed_with is None:
                return


FEED_KINDS = st.sampled_from([model.model_fields["kind"].default.value for model in FEED_FAULT_TYPES])
NUMBERS = st.one_of(st.integers(min_value=-(10**30), max_value=10**30), ANY_FLOAT,
                    st.sampled_from([1e308, -1e308, 5e-324, 0, 1, 2, 100, 100.5, 5_000, -5_000, 5_000.01]))
PARAMS = st.fixed_dictionaries(
    {"feed": st.sampled_from(["A", "B", "*", "C", "", "a" * 9, None])},
    optional={
        "symbols": st.one_of(st.lists(SYMBOL_NAMES, max_size=3), VALUES),
        "every_n": NUMBERS, "bp": NUMBERS, "multiplier": NUMBERS,
        "session": st.sampled_from([None, "OMS-A"]),
        "bogus": VALUES,
    },
)


def test_no_feed_fault_parameters_crash_or_corrupt_the_venue(tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    with running_venue(tmp_path) as (runner, venue), caplog.at_level(logging.ERROR, logger="mock_exchange"):
        http = runner.run(_session())
        base = f"http://127.0.0.1:{venue.admin_port}"

        async def exercise(kind: str, body: Any) -> None:
            async with http.put(f"{base}/faults/{kind}", data=json.dumps(body).encode()) as response:
                answer = strict(await response.text())
                assert response.status in (200, 400), answer
                assert (response.status == 200) == ("error" not in answer)
            for feed in venue.market_data.feeds.values():
                for _ in range(3):
                    venue.step()
                    feed.publish(asyncio.get_running_loop().time() + 1.0)
                for symbol in ("BTC-USD", "ETH-USD"):
                    quote = feed.current(symbol)
                    assert quote.finite
                    assert min(quote.bid, quote.ask, quote.last) > 0
            async with http.get(f"{base}/ledger") as response:
                strict(await response.text())
            async with http.delete(f"{base}/faults") as response:
                assert response.status == 204

        @SETTINGS
        @given(FEED_KINDS, PARAMS)
        @example("feed_drift", {"feed": "A", "bp": -5_000})
        @example("feed_burst", {"feed": "*", "multiplier": 100})
        @example("feed_gap", {"feed": "B", "every_n": 1})
        def check(kind: str, params: dict[str, Any]) -> None:
            runner.run(exercise(kind, params))

        try:
            check()
        finally:
            runner.run(http.close())
    for line in venue.config.ledger_path.read_text().splitlines():
        strict(line)
    assert [record.getMessage() for record in caplog.records] == []
