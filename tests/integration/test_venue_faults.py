"""Exchange faults switched through the admin API, observed by FIX clients over loopback."""

from __future__ import annotations

import json

import aiohttp
import pytest

from mock_exchange.venue import Venue
from tests.integration.venue_helpers import (
    FAR_ABOVE,
    FAR_BELOW,
    FixTestClient,
    answers_in_order,
    arm_fault,
    call_json,
    field,
    heal_fault,
)

pytestmark = pytest.mark.integration


async def _resting(client: FixTestClient, cl_ord_id: str, symbol: str = "BTC-USD") -> str:
    client.new_order(cl_ord_id, price=FAR_BELOW, symbol=symbol)
    ack = await client.expect("8")
    assert field(ack, 150) == "0"
    return field(ack, 37) or ""


# -- the admin contract ------------------------------------------------------------------------


async def test_faults_are_armed_listed_replaced_and_healed(venue: Venue) -> None:
    port = venue.admin_port
    assert await call_json(port, "GET", "/faults") == (200, {"faults": []})
    stored = await arm_fault(port, "cancel_failure", mode="reject", reason="venue busy")
    assert stored == {
        "kind": "cancel_failure",
        "mode": "reject",
        "reason": "venue busy",
        "symbol": None,
        "on_heal": None,
        "session": None,
    }
    await arm_fault(port, "halt", symbols=["ETH-USD"], session="OMS-A")
    replaced = await arm_fault(port, "cancel_failure", mode="drop")
    _, listed = await call_json(port, "GET", "/faults")
    assert [(fault["kind"], fault.get("mode")) for fault in listed["faults"]] == [
        ("cancel_failure", "drop"),
        ("halt", None),
    ]
    assert replaced["reason"] == "Cancel rejected by venue"
    await heal_fault(port, "halt")
    await heal_fault(port, "halt")
    assert await call_json(port, "DELETE", "/faults") == (204, None)
    assert await call_json(port, "GET", "/faults") == (200, {"faults": []})


async def test_fault_changes_are_ledger_events(venue: Venue) -> None:
    await arm_fault(venue.admin_port, "reject_new_orders", reason="maintenance")
    await heal_fault(venue.admin_port, "reject_new_orders")
    await heal_fault(venue.admin_port, "reject_new_orders")
    lines = [json.loads(line) for line in venue.config.ledger_path.read_text().splitlines()]
    faults = [(line["fault"], line["action"], line["params"]) for line in lines if line["kind"] == "fault"]
    assert faults == [
        ("reject_new_orders", "arm", {"kind": "reject_new_orders", "reason": "maintenance", "session": None}),
        ("reject_new_orders", "heal", None),
    ]
    _, ledger = await call_json(venue.admin_port, "GET", "/ledger")
    assert [event["action"] for event in ledger["faults"]] == ["arm", "heal"]


@pytest.mark.parametrize(
    ("kind", "body", "status", "named"),
    [
        ("cancel_failure", {"mode": "explode"}, 400, "mode"),
        ("cancel_failure", {}, 400, "mode"),
        ("rate_limit", {"max_orders": 0, "window_s": 1}, 400, "max_orders"),
        ("rate_limit", {"max_orders": 5, "window_s": 1, "ban_s": -1}, 400, "ban_s"),
        ("execution_reports", {"mode": "delay"}, 400, "delay_s"),
        ("execution_reports", {"mode": "drop", "probability": 2}, 400, "probability"),
        ("halt", {"symbols": []}, 400, "symbols"),
        ("halt", {"symbols": ["X"], "colour": "red"}, 400, "colour"),
        ("reconnect_cooldown", {"scope": "planet"}, 400, "scope"),
        ("halt", ["BTC-USD"], 400, "JSON object"),
        ("meteor_strike", {}, 404, "meteor_strike"),
    ],
)
async def test_bad_fault_requests_get_a_clear_4xx(
    venue: Venue, kind: str, body: object, status: int, named: str
) -> None:
    got_status, answer = await call_json(venue.admin_port, "PUT", f"/faults/{kind}", body)
    assert got_status == status
    assert named in answer["error"]
    assert await call_json(venue.admin_port, "GET", "/faults") == (200, {"faults": []})


async def test_unparsable_fault_body_is_400(venue: Venue) -> None:
    url = f"http://127.0.0.1:{venue.admin_port}/faults/halt"
    async with aiohttp.ClientSession() as http, http.put(url, data=b"{not json") as response:
        assert response.status == 400
        assert "JSON object" in (await response.json())["error"]


# -- cancel failures ---------------------------------------------------------------------------


async def test_cancel_failure_reject_answers_with_the_reason(venue: Venue, client: FixTestClient) -> None:
    await _resting(client, "oms-a-1-1")
    await arm_fault(venue.admin_port, "cancel_failure", mode="reject", reason="Cancel queue full")
    client.cancel("oms-a-1-2", "oms-a-1-1")
    reject = await client.expect("9")
    assert [field(reject, tag) for tag in (11, 41, 39, 434, 102, 58)] == [
        "oms-a-1-2",
        "oms-a-1-1",
        "0",
        "1",
        "2",
        "Cancel queue full",
    ]
    order = venue.ledger.order_by_cl_ord_id("oms-a-1-1")
    assert order is not None
    assert order.is_open


async def test_cancel_failure_hang_answers_once_healed(venue: Venue, client: FixTestClient) -> None:
    await _resting(client, "oms-a-1-1")
    await arm_fault(venue.admin_port, "cancel_failure", mode="hang")
    client.cancel("oms-a-1-2", "oms-a-1-1")
    assert await answers_in_order(client, "hung") == []
    order = venue.ledger.order_by_cl_ord_id("oms-a-1-1")
    assert order is not None
    assert order.is_open
    await heal_fault(venue.admin_port, "cancel_failure")
    canceled = await client.expect("8")
    assert [field(canceled, tag) for tag in (150, 39, 11, 41)] == ["4", "4", "oms-a-1-2", "oms-a-1-1"]
    assert not order.is_open


async def test_cancel_failure_drop_never_answers(venue: Venue, client: FixTestClient) -> None:
    await _resting(client, "oms-a-1-1")
    await arm_fault(venue.admin_port, "cancel_failure", mode="drop")
    client.cancel("oms-a-1-2", "oms-a-1-1")
    assert await answers_in_order(client, "dropped") == []
    await heal_fault(venue.admin_port, "cancel_failure")
    assert await answers_in_order(client, "still-dropped") == []
    order = venue.ledger.order_by_cl_ord_id("oms-a-1-1")
    assert order is not None
    assert order.is_open


async def test_cancel_failure_is_scoped_by_symbol_and_session(
    venue: Venue, client: FixTestClient, client_b: FixTestClient
) -> None:
    await _resting(client, "oms-a-1-1", symbol="ETH-USD")
    await _resting(client, "oms-a-1-2")
    await arm_fault(venue.admin_port, "cancel_failure", mode="reject", symbol="BTC-USD", session="OMS-A")
    client.cancel("oms-a-1-3", "oms-a-1-1")
    assert field(await client.expect("8"), 150) == "4"
    client_b.cancel("oms-b-1-1", "oms-a-1-2")
    assert field(await client_b.expect("8"), 150) == "4"


# -- new orders ----------------------------------------------------------------------------


async def test_reject_new_orders_for_one_session(
    venue: Venue, client: FixTestClient, client_b: FixTestClient
) -> None:
    await arm_fault(
        venue.admin_port, "reject_new_orders", reason="Exchange not accepting orders", session="OMS-A"
    )
    client.new_order("oms-a-1-1", price=FAR_BELOW)
    rejected = await client.expect("8")
    assert [field(rejected, tag) for tag in (150, 39, 58)] == ["8", "8", "Exchange not accepting orders"]
    client_b.new_order("oms-b-1-1", price=FAR_BELOW, sub_id="oms-b")
    assert field(await client_b.expect("8"), 150) == "0"
    await heal_fault(venue.admin_port, "reject_new_orders")
    client.new_order("oms-a-1-2", price=FAR_BELOW)
    assert field(await client.expect("8"), 150) == "0"
    assert [order.status.value for order in venue.ledger.orders.values()] == ["rejected", "new", "new"]


async def test_rate_limit_rejects_beyond_the_limit_then_bans(venue: Venue, client: FixTestClient) -> None:
    await arm_fault(venue.admin_port, "rate_limit", max_orders=2, window_s=60, ban_s=60)
    for number in range(1, 5):
        client.new_order(f"oms-a-1-{number}", price=FAR_BELOW)
    reports = [await client.expect("8") for _ in range(4)]
    assert [field(report, 150) for report in reports] == ["0", "0", "8", "8"]
    assert field(reports[2], 58) == "Rate limit exceeded"
    assert (field(reports[3], 58) or "").startswith("Rate limit exceeded: banned for another")
    await heal_fault(venue.admin_port, "rate_limit")
    client.new_order("oms-a-1-5", price=FAR_BELOW)
    assert field(await client.expect("8"), 150) == "0"


async def test_halt_rejects_new_orders_and_stops_fills(venue: Venue, client: FixTestClient) -> None:
    client.new_order("oms-a-1-1", price=FAR_ABOVE)
    await client.expect("8")
    await arm_fault(venue.admin_port, "halt", symbols=["BTC-USD"])
    assert field(await client.expect("f"), 326) == "2"  # SecurityStatus: trading halt
    client.new_order("oms-a-1-2", price=FAR_ABOVE)
    rejected = await client.expect("8")
    assert [field(rejected, 150), field(rejected, 58)] == ["8", "Trading halted: BTC-USD"]
    client.new_order("oms-a-1-3", price=FAR_BELOW, symbol="ETH-USD")
    assert field(await client.expect("8"), 150) == "0"
    for _ in range(20):
        venue.step()
    assert venue.ledger.fills == []
    resting = venue.ledger.order_by_cl_ord_id("oms-a-1-1")
    assert resting is not None
    assert resting.is_open
    await heal_fault(venue.admin_port, "halt")
    for _ in range(10):  # each step fills at least one of the 10 lots
        venue.step()
    assert {fill.cl_ord_id for fill in venue.ledger.fills} == {"oms-a-1-1"}


async def test_halt_scoped_to_a_session_leaves_the_others_trading(
    venue: Venue, client: FixTestClient, client_b: FixTestClient
) -> None:
    await arm_fault(venue.admin_port, "halt", symbols=["BTC-USD"], session="OMS-B")
    client_b.new_order("oms-b-1-1", price=FAR_ABOVE, sub_id="oms-b")
    assert field(await client_b.expect("8"), 58) == "Trading halted: BTC-USD"
    client.new_order("oms-a-1-1", price=FAR_ABOVE)
    assert field(await client.expect("8"), 150) == "0"
    order = venue.ledger.order_by_cl_ord_id("oms-a-1-1")
    assert order is not None
    for _ in range(10):  # each step fills at least one of the 10 lots
        venue.step()
    assert order.status.value == "filled"
