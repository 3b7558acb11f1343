"""Probes that send orders: the round trip on the active instance, the refusal of the others, and
(only with ``--trade``) a position round trip.

The round-trip order is the harness's own trade-probe order: a limit buy of 1 at half the symbol's
reference price (:func:`gameday.workload.reference_price`), far below the market, cancelled at once.
What the harness will send during a run is what is checked here, through the same OMS API.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from gameday.contract.checks import order_fields, order_problem
from gameday.contract.http import Answer, Http, VenueAdmin, excerpt
from gameday.contract.instance import InstanceView, json_problem
from gameday.contract.results import Results
from gameday.oms_api import OmsOp
from gameday.workload import OrderRequest, reference_price

__all__ = ["ROUND_TRIP", "position_round_trip", "probe_order", "refused_by", "round_trip"]

ROUND_TRIP = ("orders.place", "orders.listed", "orders.cancel", "orders.unlisted", "ledger.order_id",
              "ledger.attributed", "ledger.canceled")
POLL_S = 0.1


def probe_order(symbol: str) -> OrderRequest:
    return OrderRequest(symbol, "buy", 1, "limit", round(reference_price(symbol) * 0.5, 2))


async def _place(http: Http, view: InstanceView, request: OrderRequest) -> Answer:
    return await http.oms(OmsOp.PLACE, view.at, http.api.place(view.at, request.body()))


async def _cancel(http: Http, view: InstanceView, order_id: str) -> Answer:
    return await http.oms(OmsOp.CANCEL, view.at, http.api.cancel(view.at, order_id), order_id=order_id)


def _placed_problem(answer: Answer) -> str | None:
    problem = json_problem(answer, 201) or order_problem(answer.body)
    if problem is None:
        return None
    if answer.seen() not in problem:
        problem = f"{problem} ({answer.seen()})"
    if answer.status is None or answer.status == 504:
        problem += "; the order's outcome is unknown: it may have reached the venue"
    return problem


async def _open_ids(http: Http, view: InstanceView) -> set[str] | str:
    """The order ids the instance lists as open, or why they could not be read."""
    answer = await http.oms(OmsOp.OPEN_ORDERS, view.at, http.api.open_orders(view.at))
    problem = json_problem(answer, 200)
    if problem is None and not isinstance(answer.body, list):
        problem = f"expected a JSON list, got {answer.seen()}"
    if problem is not None:
        return f"GET /orders?status=open: {problem}"
    return {str(order["order_id"]) for order in answer.body
            if isinstance(order, dict) and "order_id" in order}


def _listing_problem(listed: set[str] | str, order_id: str, *, expected: bool) -> str | None:
    if isinstance(listed, str):
        return listed
    if (order_id in listed) == expected:
        return None
    if expected:
        return f"order {order_id} is not among the {len(listed)} open orders"
    return f"order {order_id} is still listed as open"


async def round_trip(http: Http, view: InstanceView, venue: VenueAdmin, ledger_unusable: str | None,
                     symbol: str, results: Results) -> None:
    """Place, see it listed, cancel, see it gone; then find it in the venue's ledger."""
    name = view.name
    request = probe_order(symbol)
    placed = await _place(http, view, request)
    problem = _placed_problem(placed)
    if problem is not None:
        results.failed("orders.place", name, problem)
        results.skip_rest(ROUND_TRIP, name, "no order was placed (orders.place failed)")
        return
    order = order_fields(placed.body)
    order_id = str(order["order_id"])
    results.passed("orders.place", name, f"201 order {order_id} ({symbol} buy 1 @ {request.price})")

    listed = _listing_problem(await _open_ids(http, view), order_id, expected=True)
    results.judge("orders.listed", name, listed, f"order {order_id} listed")

    canceled = await _cancel(http, view, order_id)
    cancel_ok = results.judge("orders.cancel", name, _cancel_problem(canceled, order_id), "200 canceled")
    if cancel_ok:
        after = _listing_problem(await _open_ids(http, view), order_id, expected=False)
        results.judge("orders.unlisted", name, after, f"order {order_id} no longer listed")
    else:
        results.skipped("orders.unlisted", name, "the cancel did not conform (orders.cancel failed)")

    if ledger_unusable is not None:
        results.skip_rest(ROUND_TRIP, name, ledger_unusable)
        return
    await _in_the_ledger(http, venue, view, order, cancel_ok, results)


def _cancel_problem(answer: Answer, order_id: str) -> str | None:
    problem = json_problem(answer, 200) or order_problem(answer.body)
    if problem is None:
        body = order_fields(answer.body)
        if body.get("status") != "canceled":
            problem = f"status: expected canceled, got {body.get('status')!r}"
        elif body.get("order_id") != order_id:
            problem = f"order_id: expected {order_id!r}, got {body.get('order_id')!r}"
    if problem is None:
        return None
    seen = "" if answer.seen() in problem else f" ({answer.seen()})"
    return f"{problem}{seen}; order {order_id} may still rest at the venue: cancel it"


def _ledger_orders(answer: Answer) -> list[dict[str, Any]] | str:
    problem = json_problem(answer, 200)
    body = answer.body
    if problem is None and not (isinstance(body, dict) and isinstance(body.get("orders"), list)):
        problem = f'expected {{"orders": [...]}}, got {answer.seen()}'
    if problem is not None:
        return f"GET /ledger: {problem}"
    return [order for order in answer.body["orders"] if isinstance(order, dict)]


async def _in_the_ledger(http: Http, venue: VenueAdmin, view: InstanceView, order: dict[str, Any],
                         canceled: bool, results: Results) -> None:
    name, order_id = view.name, str(order["order_id"])
    orders = _ledger_orders(await venue.ledger(http))
    if isinstance(orders, str):
        results.failed("ledger.order_id", name, orders)
        results.skip_rest(ROUND_TRIP, name, "the ledger could not be read")
        return
    found = next((entry for entry in orders if entry.get("cl_ord_id") == order_id), None)
    if found is None:
        by_venue_id = next((entry for entry in orders if order.get("exchange_order_id") is not None
                            and entry.get("order_id") == order.get("exchange_order_id")), None)
        known_as = "" if by_venue_id is None else f" (the venue knows it as {by_venue_id.get('cl_ord_id')!r})"
        results.failed("ledger.order_id", name, f"no ledger order has cl_ord_id {order_id!r}{known_as}")
        results.skip_rest(ROUND_TRIP, name, "the order is not in the ledger under its order_id")
        return
    results.passed("ledger.order_id", name, f"ledger order {found.get('order_id')}")
    expected = view.calls_itself or order.get("instance")
    attributed = found.get("instance")
    if expected is None:
        results.skipped("ledger.attributed", name, "the instance's own name is unknown (role failed)")
    else:
        results.judge("ledger.attributed", name, None if attributed == expected else
                      f"the venue attributes it to {attributed!r} (sender_sub_id "
                      f"{found.get('sender_sub_id')!r}); the instance calls itself {expected!r}",
                      f"instance {attributed!r}")
    if not canceled:
        results.skipped("ledger.canceled", name, "the cancel did not conform (orders.cancel failed)")
    else:
        status = found.get("status")
        results.judge("ledger.canceled", name, None if status == "canceled" else
                      f"the venue has it {status!r} after DELETE answered 200", "canceled")


async def refused_by(http: Http, view: InstanceView, symbol: str, results: Results) -> None:
    """A non-active instance must answer 503; one that places the order gets it cancelled again."""
    answer = await _place(http, view, probe_order(symbol))
    if answer.status == 503:
        results.passed("orders.refused", view.name, f"503 {excerpt(answer.text, 80)}")
        return
    detail = f"expected 503 from a {view.role} instance, got {answer.seen()}"
    if answer.status == 201 and order_problem(answer.body) is None:
        order_id = str(order_fields(answer.body)["order_id"])
        canceled = await _cancel(http, view, order_id)
        detail += (f"; it placed order {order_id}: cancelled it again" if canceled.status == 200 else
                   f"; it placed order {order_id} and its cancel got {canceled.seen()}: cancel it")
    results.failed("orders.refused", view.name, detail)


async def position_round_trip(http: Http, view: InstanceView, symbol: str, settle_s: float,
                              results: Results) -> None:
    """A market buy of 1 then a market sell of 1: the position moves +1, then back; fills grow."""
    start = await _position(http, view, symbol)
    if isinstance(start, str):
        results.failed("positions.round_trip", view.name, start)
        return
    qty, fills = start
    seen = [f"{symbol} {qty}"]
    for side, want in (("buy", qty + 1), ("sell", qty)):
        request = OrderRequest(symbol, side, 1, "market", None)
        answer = await _place(http, view, request)
        left = f"; the position is left {qty + 1}: sell 1 {symbol} to undo the buy" if side == "sell" else ""
        problem = _placed_problem(answer)
        if problem is not None:
            results.failed("positions.round_trip", view.name, f"the market {side}: {problem}{left}")
            return
        reached = await _settles(http, view, symbol, want, fills + 1, settle_s)
        if isinstance(reached, str):
            results.failed("positions.round_trip", view.name, f"after the market {side}: {reached}{left}")
            return
        fills = reached[1]
        seen.append(str(reached[0]))
    results.passed("positions.round_trip", view.name, f"{' → '.join(seen)}; fills {start[1]} → {fills}")


async def _position(http: Http, view: InstanceView, symbol: str) -> tuple[int, int] | str:
    answer = await http.oms(OmsOp.POSITIONS, view.at, http.api.positions(view.at))
    problem = json_problem(answer, 200)
    if problem is not None:
        return f"GET /positions: {problem}"
    body = answer.body
    positions = body.get("positions") if isinstance(body, dict) else None
    fills = body.get("fills") if isinstance(body, dict) else None
    qty = positions.get(symbol, 0) if isinstance(positions, dict) else None
    if not isinstance(qty, int) or not isinstance(fills, int):
        return f"GET /positions: no integer position and fills in {answer.seen()}"
    return qty, fills


async def _settles(http: Http, view: InstanceView, symbol: str, qty: int, min_fills: int,
                   settle_s: float) -> tuple[int, int] | str:
    """Poll positions until the symbol's is ``qty`` with at least ``min_fills`` fills, bounded."""
    deadline = time.monotonic() + settle_s
    while True:
        last = await _position(http, view, symbol)
        if isinstance(last, str):
            return last
        if last[0] == qty and last[1] >= min_fills:
            return last
        if time.monotonic() >= deadline:
            return (f"expected position {qty} with at least {min_fills} fills within {settle_s:g} s, "
                    f"saw position {last[0]} with {last[1]} fills")
        await asyncio.sleep(POLL_S)
