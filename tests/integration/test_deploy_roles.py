"""Deploy roles over real processes (docs/deploy.md §2.2-§2.3): a dormant green launched in shadow
computes blue's outputs without trading; a cutover parks blue and activates green; a rollback
restores blue's positions before it takes traffic again."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest

from tests.integration.test_deploy_support import DeployBed, deploy_bed, pg_cache
from tests.integration.test_oms_support import Service, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
async def bed(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DeployBed]:
    async with deploy_bed(tmp_path, pg_cache(tmp_path_factory)) as running:
        yield running


async def launch_shadow(bed: DeployBed, version: str = "1.4.2") -> Service:
    green = await bed.oms("oms-green", "dormant", ready=False)
    status, role = await bed.call(green, "GET", "/role")
    assert (status, role["role"]) == (200, "dormant")
    assert (await bed.call(green, "GET", "/health/deep"))[0] == 503
    status, body = await bed.admin(green, "/admin/launch", {"version": version, "role": "shadow"})
    assert (status, body["role"], body["version"]) == (202, "shadow", version)
    await bed.deep_ready(green)
    return green


async def trade(bed: DeployBed, svc: Service, lots: int, symbol: str = "BTC-USD") -> None:
    before = (await bed.ledger_positions()).get(symbol, 0)
    status, order = await bed.place(svc, symbol=symbol, type="market", price=None, qty=lots)
    assert status == 201, order

    async def filled() -> bool:
        return (await bed.ledger_positions()).get(symbol, 0) == before + lots

    await wait_until(filled, 5, f"{lots} {symbol} to fill")


def outputs(bed: DeployBed, subject: str) -> dict[str, dict[str, Any]]:
    return {m["event_id"]: m for m in bed.messages(subject)}


async def test_a_shadow_replays_blues_fills_and_publishes_the_same_outputs_without_trading(
    bed: DeployBed,
) -> None:
    blue = await bed.oms("oms-blue", "active")
    await trade(bed, blue, 3)
    green = await launch_shadow(bed)
    await trade(bed, blue, 2)
    await trade(bed, blue, 1, "ETH-USD")

    async def all_shadowed() -> bool:
        live = outputs(bed, "outputs")
        eth_booked = any(o["symbol"] == "ETH-USD" for o in live.values())
        return eth_booked and set(outputs(bed, "shadow.outputs")) == set(live)

    await wait_until(all_shadowed, 10, "a shadow output for every fill blue booked")
    live, shadow = outputs(bed, "outputs"), outputs(bed, "shadow.outputs")
    fields = ("symbol", "position", "avg_price", "realized_pnl", "order_status", "cum_qty")
    for event_id, blue_output in live.items():
        assert {f: blue_output[f] for f in fields} == {f: shadow[event_id][f] for f in fields}
        assert (blue_output["instance"], shadow[event_id]["instance"]) == ("oms-blue", "oms-green")
    _, positions = await bed.call(green, "GET", "/positions")
    assert positions["positions"] == {"BTC-USD": 5, "ETH-USD": 1}
    status, refused = await bed.place(green)
    assert (status, refused["error"], refused["role"]) == (503, "not active", "shadow")
    _, ledger = await bed.venue_api("GET", "/ledger")
    assert {o["instance"] for o in ledger["orders"]} == {"oms-blue"}
    assert any(s["sender_comp_id"] == "OMS-GREEN" and s["logged_on"] for s in ledger["sessions"])
    status, again = await bed.admin(green, "/admin/launch", {"version": "1.4.2", "role": "shadow"})
    assert (status, again["error"]) == (409, "already launched")


async def test_a_1_4_3_shadow_books_a_second_markets_partial_fill_twice(bed: DeployBed) -> None:
    await bed.oms("oms-blue", "active")
    green = await launch_shadow(bed, "1.4.3")
    client = await nats.connect(bed.nats_url)
    try:
        for exec_id, lots, cum, venue in (("X1", 3, 3, "XNAS"), ("X2", 2, 5, "ARCX")):
            fill = {
                "exec_id": exec_id,
                "order_id": "oms-blue-1-1",
                "exchange_order_id": "O1",
                "symbol": "BTC-USD",
                "side": "buy",
                "qty": lots,
                "price": 100.0,
                "t_ns": 1,
                "instance": "oms-blue",
                "venue": venue,
                "cum_qty": cum,
                "order_qty": 5,
            }
            await client.jetstream().publish("oms.fills", json.dumps(fill).encode())
    finally:
        await client.close()
    await wait_until(lambda: "X2" in outputs(bed, "shadow.outputs"), 10, "the shadow's output for X2")
    shadow = outputs(bed, "shadow.outputs")
    assert [shadow[e]["position"] for e in ("X1", "X2")] == [3, 8]
    assert shadow["X2"]["version"] == "1.4.3"
    _, role = await bed.call(green, "GET", "/role")
    assert role["version"] == "1.4.3"
    announced = [(r["role"], r["version"]) for r in bed.messages("roles", "oms-green")]
    assert announced == [("shadow", "1.4.3")]


async def test_cutover_parks_blue_activates_green_and_rollback_restores_blue_from_the_database(
    bed: DeployBed,
) -> None:
    blue = await bed.oms("oms-blue", "active")
    await trade(bed, blue, 3)
    status, resting = await bed.place(blue, symbol="ETH-USD")
    assert status == 201
    green = await launch_shadow(bed)

    status, parked = await bed.admin(blue, "/admin/role", {"role": "parked"})
    assert (status, parked["role"]) == (200, "parked")
    status, active = await bed.admin(green, "/admin/role", {"role": "active"})
    assert (status, active["role"]) == (200, "active"), active
    assert (await bed.place(blue))[1]["role"] == "parked"
    await trade(bed, green, 4)
    status, canceled = await bed.call(green, "DELETE", f"/orders/{resting['order_id']}")  # adopted from blue
    assert (status, canceled["status"]) == (200, "canceled")
    assert bed.alerts("UnknownOpenOrder") == []

    status, _ = await bed.admin(green, "/admin/role", {"role": "parked"})
    assert status == 200
    status, restored = await bed.admin(blue, "/admin/restore-positions")
    assert (status, restored["source"], restored["positions"]) == (200, "venue", {"BTC-USD": 7})
    assert bed.alerts("RestoreMismatch") == []  # green's fills were in the database too
    status, _ = await bed.admin(blue, "/admin/role", {"role": "active"})
    assert status == 200
    _, positions = await bed.call(blue, "GET", "/positions")
    assert positions["positions"] == await bed.ledger_positions() == {"BTC-USD": 7}
    status, unwound = await bed.admin(blue, "/admin/unwind", {"timeout_s": 5})  # the rollback's last step
    assert (status, unwound["open_orders"]) == (200, 0), unwound
    assert await bed.ledger_positions() == {}
    await trade(bed, blue, 1)
    roles = [(r["instance"], r["role"]) for r in bed.messages("roles")]
    assert roles[-4:] == [
        ("oms-blue", "parked"),
        ("oms-green", "active"),
        ("oms-green", "parked"),
        ("oms-blue", "active"),
    ]


async def test_a_rollback_without_restore_leaves_blue_with_its_stale_book(bed: DeployBed) -> None:
    blue = await bed.oms("oms-blue", "active")
    await trade(bed, blue, 3)
    green = await launch_shadow(bed)
    assert (await bed.admin(blue, "/admin/role", {"role": "parked"}))[0] == 200
    assert (await bed.admin(green, "/admin/role", {"role": "active"}))[0] == 200
    await trade(bed, green, 4)
    assert (await bed.admin(green, "/admin/role", {"role": "parked"}))[0] == 200
    assert (await bed.admin(blue, "/admin/role", {"role": "active"}))[0] == 200
    _, positions = await bed.call(blue, "GET", "/positions")
    assert positions["positions"] == {"BTC-USD": 3} != await bed.ledger_positions()


async def test_bad_deploy_requests_get_clear_errors(bed: DeployBed) -> None:
    blue = await bed.oms("oms-blue", "active")
    status, body = await bed.admin(blue, "/admin/role", {"role": "shadow"})
    assert (status, body["error"]) == (422, "invalid role")
    status, body = await bed.admin(blue, "/admin/launch", {"version": "9.9.9", "role": "shadow"})
    assert (status, body["error"]) == (422, "invalid launch")
    status, body = await bed.admin(blue, "/admin/launch", {"version": "1.4.3", "role": "shadow"})
    assert (status, body["error"]) == (409, "already launched")
    assert (await bed.call(blue, "POST", "/admin/role", {"role": "parked"}))[0] == 401
    green = await bed.oms("oms-green", "dormant", ready=False)
    status, body = await bed.admin(green, "/admin/role", {"role": "active"})
    assert (status, body["role"]) == (409, "dormant")
    status, body = await bed.admin(green, "/admin/restore-positions")
    assert status == 409
    status, body = await bed.admin(green, "/admin/unwind", {"timeout_s": 1})
    assert (status, body["role"]) == (409, "dormant")
    status, body = await bed.admin(blue, "/admin/unwind", {"timeout_s": 0})
    assert (status, body["error"]) == (422, "invalid unwind")
