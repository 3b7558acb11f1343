"""The venue fault options game days need, over a real venue and FIX: a rate limit that counts
cancels and replaces, execution-report faults on fills only, and a hang whose heal drops the held
cancels."""

from __future__ import annotations

import re

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
    utc_timestamp,
)

pytestmark = pytest.mark.integration


async def _resting(client: FixTestClient, cl_ord_id: str) -> None:
    client.new_order(cl_ord_id, price=FAR_BELOW)
    assert field(await client.expect("8"), 150) == "0"


def _replace(client: FixTestClient, cl_ord_id: str, orig: str, *, qty: int) -> None:
    client.send("G", [(50, "oms-a"), (11, cl_ord_id), (41, orig), (55, "BTC-USD"), (54, 1),
                      (60, utc_timestamp()), (38, qty), (40, 2), (44, FAR_BELOW)])


def _is_open(venue: Venue, cl_ord_id: str) -> bool:
    order = venue.ledger.order_by_cl_ord_id(cl_ord_id)
    assert order is not None
    return order.is_open


# -- rate limits that count cancels and replaces ---------------------------------------------------


async def test_a_rate_limit_counting_cancels_refuses_the_cancel_beyond_it(venue: Venue,
                                                                          client: FixTestClient) -> None:
    await arm_fault(venue.admin_port, "rate_limit", max_orders=1, window_s=60, counts=["cancel"])
    await _resting(client, "oms-a-1-1")
    await _resting(client, "oms-a-1-2")  # new orders are not counted: both accepted
    client.cancel("oms-a-1-3", "oms-a-1-1")
    assert field(await client.expect("8"), 150) == "4"

    client.cancel("oms-a-1-4", "oms-a-1-2")
    refused = await client.expect("9")

    assert [field(refused, tag) for tag in (11, 41, 434, 102, 58)] == [
        "oms-a-1-4", "oms-a-1-2", "1", "2", "Rate limit exceeded"]
    assert _is_open(venue, "oms-a-1-2")
    await heal_fault(venue.admin_port, "rate_limit")
    client.cancel("oms-a-1-5", "oms-a-1-2")
    assert field(await client.expect("8"), 150) == "4"


async def test_a_rate_limit_counting_replaces_refuses_the_replace_beyond_it(venue: Venue,
                                                                            client: FixTestClient) -> None:
    await _resting(client, "oms-a-1-1")
    await arm_fault(venue.admin_port, "rate_limit", max_orders=1, window_s=60, counts=["replace"])
    _replace(client, "oms-a-1-2", "oms-a-1-1", qty=11)
    assert field(await client.expect("8"), 150) == "5"

    _replace(client, "oms-a-1-3", "oms-a-1-2", qty=12)
    refused = await client.expect("9")

    assert [field(refused, tag) for tag in (11, 41, 434, 102, 58)] == [
        "oms-a-1-3", "oms-a-1-2", "2", "2", "Rate limit exceeded"]
    order = venue.ledger.order_by_cl_ord_id("oms-a-1-2")
    assert order is not None
    assert order.qty == 11
    client.cancel("oms-a-1-4", "oms-a-1-2")  # cancels are not counted
    assert field(await client.expect("8"), 150) == "4"


async def test_a_rate_limit_counts_new_orders_only_by_default(venue: Venue, client: FixTestClient) -> None:
    stored = await arm_fault(venue.admin_port, "rate_limit", max_orders=1, window_s=60)
    assert stored["counts"] == ["new"]
    await _resting(client, "oms-a-1-1")
    for number in (2, 3):
        client.cancel(f"oms-a-1-{number}", "oms-a-1-1")
    assert field(await client.expect("8"), 150) == "4"
    assert field(await client.expect("9"), 102) == "0"  # too late: a cancel is refused for what it is


# -- execution-report faults on fills only -------------------------------------------------------


async def test_dropping_fills_only_lets_the_ack_through_and_drops_the_fill(venue: Venue,
                                                                         client: FixTestClient) -> None:
    await arm_fault(venue.admin_port, "execution_reports", mode="drop", only="fills")
    client.new_order("oms-a-1-1", price=FAR_ABOVE)
    assert field(await client.expect("8"), 150) == "0"

    venue.step()

    assert [fill.cl_ord_id for fill in venue.ledger.fills] == ["oms-a-1-1"]
    assert await answers_in_order(client, "fill-dropped") == []


async def test_duplicating_fills_only_sends_each_fill_twice_and_each_ack_once(venue: Venue,
                                                                             client: FixTestClient) -> None:
    await arm_fault(venue.admin_port, "execution_reports", mode="duplicate", only="fills")
    client.new_order("oms-a-1-1", price=FAR_ABOVE)
    acks = await answers_in_order(client, "acked")
    assert [field(ack, 150) for ack in acks] == ["0"]

    venue.step()
    fills = await answers_in_order(client, "filled")

    [fill] = venue.ledger.fills
    assert [(field(report, 150), field(report, 17)) for report in fills] == [("F", fill.exec_id)] * 2
    assert len({field(report, 34) for report in fills}) == 2


# -- a hang whose heal drops the held cancels ------------------------------------------------------


async def test_a_hang_healed_with_on_heal_drop_never_answers_and_only_a_retry_cancels(
    venue: Venue, client: FixTestClient
) -> None:
    await _resting(client, "oms-a-1-1")
    stored = await arm_fault(venue.admin_port, "cancel_failure", mode="hang", on_heal="drop")
    assert stored["on_heal"] == "drop"
    client.cancel("oms-a-1-2", "oms-a-1-1")
    assert await answers_in_order(client, "held") == []

    await heal_fault(venue.admin_port, "cancel_failure")

    assert await answers_in_order(client, "dropped") == []
    assert _is_open(venue, "oms-a-1-1")
    client.cancel("oms-a-1-3", "oms-a-1-1")
    canceled = await client.expect("8")
    assert [field(canceled, tag) for tag in (150, 11, 41)] == ["4", "oms-a-1-3", "oms-a-1-1"]


async def test_a_hang_replaced_by_another_fault_drops_what_it_held_when_told_to(
    venue: Venue, client: FixTestClient
) -> None:
    await _resting(client, "oms-a-1-1")
    await arm_fault(venue.admin_port, "cancel_failure", mode="hang", on_heal="drop")
    client.cancel("oms-a-1-2", "oms-a-1-1")
    assert await answers_in_order(client, "held") == []

    await arm_fault(venue.admin_port, "cancel_failure", mode="hang")  # release from now on
    client.cancel("oms-a-1-3", "oms-a-1-1")
    await heal_fault(venue.admin_port, "cancel_failure")

    [canceled] = await answers_in_order(client, "released")
    assert [field(canceled, tag) for tag in (150, 11)] == ["4", "oms-a-1-3"]


# -- the admin API refuses bad bodies with a 400 that names the field -----------------------------


@pytest.mark.parametrize(
    ("kind", "body", "named"),
    [
        ("rate_limit", {"max_orders": 1, "window_s": 1, "counts": ["amend"]}, "counts"),
        ("rate_limit", {"max_orders": 1, "window_s": 1, "counts": "cancel"}, "counts"),
        ("rate_limit", {"max_orders": 1, "window_s": 1, "counts": ["new", "new"]}, "counts"),
        ("rate_limit", {"max_orders": 1, "window_s": 1, "counts": [{"x": 1}]}, "counts"),
        ("execution_reports", {"mode": "drop", "only": "acks"}, "only"),
        ("execution_reports", {"mode": "drop", "only": None}, "only"),
        ("cancel_failure", {"mode": "reject", "on_heal": "drop"}, "on_heal"),
        ("cancel_failure", {"mode": "hang", "on_heal": "later"}, "on_heal"),
        ("cancel_failure", {"mode": ["hang"], "on_heal": "drop"}, "mode"),
    ],
)
async def test_bad_option_bodies_get_a_400_naming_the_field(venue: Venue, kind: str, body: object,
                                                            named: str) -> None:
    status, answer = await call_json(venue.admin_port, "PUT", f"/faults/{kind}", body)

    assert status == 400
    assert re.match(rf"{kind}: {named}[.:]", answer["error"]), answer["error"]
    assert await call_json(venue.admin_port, "GET", "/faults") == (200, {"faults": []})
