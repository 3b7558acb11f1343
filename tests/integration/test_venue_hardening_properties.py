"""Property tests (issue 15): whatever fault parameters the admin API or order fields the WebSocket
API is sent, the venue answers without a 500 or an internal error, keeps matching with finite,
positive prices, and its ledger (file and ``GET /ledger``) holds only what strict JSON can.

Each test runs one venue on its own event loop and drives it from a synchronous hypothesis body.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
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

from mock_exchange.faults import FAULT_MODELS, FaultKind
from mock_exchange.venue import Venue
from tests.integration.ws_helpers import WsTestClient, ws_venue_config

pytestmark = pytest.mark.integration

MAX_PRICE = 1e6
SETTINGS = settings(
    max_examples=200,
    deadline=timedelta(seconds=5),
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
EXTREME_FLOATS = st.sampled_from(
    [1e308, -1e308, 5e-324, -0.0, 1e16, -100.0, -99.999999, 10_000.0, 1e4 + 1e-9, 86_400.0, 86_400.5]
)
NUMBERS = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    EXTREME_FLOATS,
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=12))
VALUES = st.one_of(
    SCALARS, st.lists(SCALARS, max_size=4), st.dictionaries(st.text(max_size=4), SCALARS, max_size=2)
)
KINDS = st.sampled_from([*(kind.value for kind in FaultKind), "no_such_kind"])
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)
IN_A_DAY = st.floats(min_value=0, max_value=1e4)
DURATIONS = st.one_of(IN_A_DAY, EXTREME_FLOATS, ANY_FLOAT)
# for each fault parameter: values within, at and beyond its bounds
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "session": st.sampled_from([None, None, None, "OMS-A", "desk-a", "X" * 65]),
    "price_path.session": st.sampled_from([None, None, None, None, None, "OMS-A"]),
    "symbol": st.sampled_from(["BTC-USD", "BTC-USD", "ETH-USD", "DOGE-USD"]),
    "symbols": st.lists(st.sampled_from(["BTC-USD", "ETH-USD", "DOGE-USD"]), max_size=3),
    "cancel_failure.mode": st.sampled_from(["reject", "hang", "drop", "delay"]),
    "execution_reports.mode": st.sampled_from(["delay", "drop", "duplicate", "hang"]),
    "reason": st.text(min_size=1, max_size=300),
    "on_heal": st.sampled_from(["release", "drop", None]),
    "max_orders": st.one_of(st.integers(min_value=1, max_value=1_000), st.integers()),
    "counts": st.lists(st.sampled_from(["new", "cancel", "replace"]), min_size=1, max_size=3, unique=True),
    "scope": st.sampled_from(["firm", "session"]),
    "probability": st.one_of(st.floats(min_value=0, max_value=1), EXTREME_FLOATS, ANY_FLOAT),
    "only": st.sampled_from(["all", "fills"]),
    "move_pct": st.one_of(st.floats(min_value=-100, max_value=2e4), EXTREME_FLOATS, ANY_FLOAT),
    **dict.fromkeys(["window_s", "ban_s", "clean_s", "unclean_s", "delay_s", "over_s"], DURATIONS),
}
CHANGES = ["none", "none", "wild", "missing", "bogus", "not an object"]


@st.composite
def fault_bodies(draw: st.DrawFn) -> tuple[str, Any]:
    """A fault kind and a body of its parameters, each within, at or beyond its bounds; then maybe
    one changed: a wild value, left out, a made-up one added, or a body that is not an object."""
    kind = draw(KINDS)
    model = next((FAULT_MODELS[known] for known in FaultKind if known.value == kind), None)
    names = [name for name in (model.model_fields if model is not None else ()) if name != "kind"]
    params: dict[str, Any] = {}
    for name in names:
        plausible = PLAUSIBLE.get(f"{kind}.{name}", PLAUSIBLE.get(name))
        if plausible is not None:
            params[name] = draw(plausible)
    change = draw(st.sampled_from(CHANGES))
    if change in ("wild", "missing") and names:
        name = draw(st.sampled_from(names))
        if change == "wild":
            params[name] = draw(VALUES)
        else:
            params.pop(name, None)
    elif change == "bogus":
        params[draw(st.text(max_size=8))] = draw(VALUES)
    elif change == "not an object":
        return kind, draw(VALUES)
    return kind, params


def strict(text: str) -> Any:
    def refuse(name: str) -> float:
        raise AssertionError(f"{name} in JSON")

    return json.loads(text, parse_constant=refuse)


def assert_ledger_is_strict_json(venue: Venue) -> None:
    for line in venue.config.ledger_path.read_text().splitlines():
        strict(line)


def assert_prices_are_sane(venue: Venue) -> None:
    for process in venue.engine.prices.values():
        quote = process.quote
        assert math.isfinite(process.mid)
        assert 0 < quote.bid < quote.ask <= MAX_PRICE + 1


@contextlib.contextmanager
def running_venue(tmp_path: Path, **overrides: Any) -> Iterator[tuple[asyncio.Runner, Venue]]:
    with asyncio.Runner() as runner:
        venue = Venue(ws_venue_config(tmp_path, max_price=MAX_PRICE, max_order_qty=10_000, **overrides))
        runner.run(venue.start())
        try:
            yield runner, venue
        finally:
            runner.run(venue.stop())


def test_no_fault_parameters_crash_or_corrupt_the_venue(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with running_venue(tmp_path) as (runner, venue), caplog.at_level(logging.ERROR, logger="mock_exchange"):
        http = runner.run(_session())
        base = f"http://127.0.0.1:{venue.admin_port}"

        async def exercise(kind: str, body: Any) -> None:
            data = json.dumps(body).encode()  # NaN and Infinity too, as Python writes them
            async with http.put(f"{base}/faults/{kind}", data=data) as response:
                answer = strict(await response.text())
                assert response.status in (200, 400, 404), answer
                assert (response.status == 200) == ("error" not in answer)
            for _ in range(3):
                venue.step()
            await asyncio.sleep(0)
            assert_prices_are_sane(venue)
            async with http.get(f"{base}/ledger") as response:
                strict(await response.text())
            async with http.delete(f"{base}/faults") as response:
                assert response.status == 204

        @SETTINGS
        @given(fault_bodies())
        @example(("price_path", {"symbol": "BTC-USD", "move_pct": 1e308, "over_s": 0}))
        @example(("price_path", {"symbol": "ETH-USD", "move_pct": 1e300, "over_s": 1e-300}))
        @example(("execution_reports", {"mode": "delay", "delay_s": 1e308}))
        def check(case: tuple[str, Any]) -> None:
            runner.run(exercise(*case))

        try:
            check()
        finally:
            runner.run(http.close())
    assert_ledger_is_strict_json(venue)
    assert [record.getMessage() for record in caplog.records] == []


FRESH_ID = "<fresh>"  # stands for a client_order_id not used before
# each field: values the venue takes, at its bounds, and beyond them
PLACE_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "client_order_id": st.just(FRESH_ID),
    "symbol": st.sampled_from(["BTC-USD", "BTC-USD", "ETH-USD", "DOGE-USD"]),
    "side": st.sampled_from(["buy", "sell"]),
    "type": st.sampled_from(["limit", "market"]),
    "qty": st.one_of(
        st.integers(min_value=1, max_value=20_000),
        st.sampled_from([0, -1, 10_000, 10_001, 2**53 - 1, 2**53, 10**23, 10**30]),
        st.integers(),
    ),
    "price": st.one_of(
        st.floats(min_value=0.01, max_value=2e6).map(lambda price: round(price, 2)),
        st.sampled_from([60_000.0, 1e6, 1e6 + 0.01, 1e300, 1e308, 0.0, -1.0, 5e-324]),
        ANY_FLOAT,
    ),
    "tif": st.sampled_from(["day", "gtc", "ioc"]),
    "sub_id": st.one_of(st.none(), st.text(max_size=64)),
}


@st.composite
def place_fields(draw: st.DrawFn) -> dict[str, Any]:
    """The fields of a place request; then maybe one changed to a wild value or left out."""
    fields = {name: draw(strategy) for name, strategy in PLACE_FIELDS.items()}
    change = draw(st.sampled_from(CHANGES[:4]))
    if change in ("wild", "missing"):
        name = draw(st.sampled_from(sorted(PLACE_FIELDS)))
        if change == "wild":
            fields[name] = draw(st.one_of(VALUES, NUMBERS))
        else:
            del fields[name]
    return fields


# the errors a place may get; internal_error (a venue defect) is not among them
ORDER = {"client_order_id": FRESH_ID, "symbol": "BTC-USD", "side": "buy", "type": "limit"}
PLACE_ERRORS = {"bad_json", "bad_request", "duplicate_client_order_id"}
ORDER_STATUSES = {"new", "rejected", "filled", "partially_filled", "canceled"}


def test_no_order_fields_crash_or_corrupt_the_venue(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with running_venue(tmp_path, fill_probability=1.0) as (runner, venue), \
            caplog.at_level(logging.ERROR, logger="mock_exchange"):
        assert venue.ws_port is not None
        http = runner.run(_session())
        ws = runner.run(http.ws_connect(f"ws://127.0.0.1:{venue.ws_port}/"))
        client = WsTestClient(ws)
        assert runner.run(client.auth("desk-a", "key-a"))["type"] == "result"
        fresh_ids = itertools.count(1)

        async def exercise(fields: dict[str, Any]) -> None:
            if fields.get("client_order_id") == FRESH_ID:
                fields["client_order_id"] = f"h-{next(fresh_ids)}"
            request_id = await client.send("place", **fields)
            answer = await client.answer(request_id)
            if answer["type"] == "error":
                assert answer["code"] in PLACE_ERRORS, answer
            else:
                assert answer["order"]["status"] in ORDER_STATUSES
            for _ in range(2):
                venue.step()
            assert_prices_are_sane(venue)
            assert (await client.request("ping"))["type"] == "result"  # the connection stays

        @SETTINGS
        @given(place_fields())
        @example({**ORDER, "type": "market", "qty": 10**30})
        @example({**ORDER, "qty": 10**30, "price": 1e300})
        @example({**ORDER, "qty": 1, "price": 1e308})
        def check(fields: dict[str, Any]) -> None:
            runner.run(exercise(fields))

        try:
            check()
            status, ledger = runner.run(_get(http, f"http://127.0.0.1:{venue.admin_port}/ledger"))
            assert status == 200
            assert {order["status"] for order in ledger["orders"]} >= {"rejected", "filled"}
        finally:
            runner.run(ws.close())
            runner.run(http.close())
    assert_ledger_is_strict_json(venue)
    assert [record.getMessage() for record in caplog.records] == []


async def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession()


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url) as response:
        return response.status, strict(await response.text())
