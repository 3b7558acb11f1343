"""One contract check of a running stack: read every instance and the venue (in parallel), decide which
instance is active, run the order round trip there and the refusal on the others, then (only with
``trade``) the position round trip."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass

import aiohttp
from pydantic import ValidationError

from gameday.checkers.evidence import LedgerSnapshot
from gameday.contract.checks import STACK, Outcome
from gameday.contract.defaults import DEFAULT_SYMBOL, DEFAULT_TIMEOUT_S
from gameday.contract.http import Http, VenueAdmin, excerpt
from gameday.contract.instance import INSTANCE_READS, AdminToken, InstanceView, json_problem, read_instance
from gameday.contract.orders import ROUND_TRIP, position_round_trip, refused_by, round_trip
from gameday.contract.report import ContractReport
from gameday.contract.results import Results, guarded
from gameday.contract.venue import venue_for_check
from gameday.target_file import TargetFile

__all__ = ["CheckOptions", "check_contract"]

@dataclass(frozen=True)
class CheckOptions:
    timeout_s: float = DEFAULT_TIMEOUT_S
    trade: bool = False
    symbol: str = DEFAULT_SYMBOL
    settle_s: float = 5.0
    """How long positions may take to follow a fill (``trade`` only)."""


async def check_contract(target: TargetFile, options: CheckOptions, admin: AdminToken | None = None, *,
                         session: aiohttp.ClientSession | None = None,
                         venue_token: str | None = None) -> ContractReport:
    """``venue_token``: the bearer token of the venue's admin API (``venue.admin_token``), if any. A
    target whose venue the harness runs (``venue.run``) has it started for the check
    (:mod:`gameday.contract.venue`)."""
    async with AsyncExitStack() as exit_stack:
        if session is None:
            session = await exit_stack.enter_async_context(aiohttp.ClientSession())
        checked = await exit_stack.enter_async_context(
            venue_for_check(target, session, token=venue_token, symbol=options.symbol))
        http = Http(session, options.timeout_s, target.oms_api)
        results = Results()
        venue = VenueAdmin(checked.admin_url, checked.token)
        urls = {name: url.rstrip("/") for name, url in target.oms.instances.items()}
        views = await _read_all(http, venue, urls, admin or AdminToken(), results)
        active = _stack_active(views, results)
        ledger_unusable = (None if results.outcome("venue.ledger", STACK) is Outcome.PASS
                           else "the venue's ledger could not be read (venue.ledger failed)")
        for view in views:
            await _order_checks(http, view, active, views, venue, ledger_unusable, options, results)
    adapter = None if target.oms.adapter is None else repr(target.oms_api)
    return ContractReport(target.name, venue.url, urls, results.items(), asdict(options), adapter)


async def _read_all(http: Http, venue: VenueAdmin, urls: dict[str, str], admin: AdminToken,
                    results: Results) -> list[InstanceView]:
    async with asyncio.TaskGroup() as group:
        group.create_task(guarded(results, ["venue.ledger"], STACK, _venue_ledger(http, venue, results)))
        reads = [group.create_task(guarded(results, INSTANCE_READS, name,
                                           read_instance(http, name, url, admin, results)))
                 for name, url in urls.items()]
    return [task.result() or InstanceView(name, url, http.at(name, url))
            for task, (name, url) in zip(reads, urls.items(), strict=True)]


async def _venue_ledger(http: Http, venue: VenueAdmin, results: Results) -> None:
    answer = await venue.ledger(http)
    problem = json_problem(answer, 200)
    if problem is None:
        body = answer.body
        if not isinstance(body, dict) or not isinstance(body.get("orders"), list) or not isinstance(
                body.get("fills"), list):
            problem = f'expected {{"orders": [...], "fills": [...]}}, got {answer.seen()}'
        else:
            try:
                LedgerSnapshot.model_validate(body)
            except ValidationError as error:
                problem = f"the checkers cannot read it: {excerpt(str(error))}"
            else:
                results.passed("venue.ledger", STACK,
                               f"{len(body['orders'])} orders, {len(body['fills'])} fills")
                return
    results.failed("venue.ledger", STACK, problem)


def _stack_active(views: list[InstanceView], results: Results) -> InstanceView | None:
    active = [view for view in views if view.active]
    if len(active) == 1:
        results.passed("stack.active", STACK, f"{active[0].name} is active and deep-healthy")
        return active[0]
    seen = "; ".join(view.describe() for view in views)
    if active:
        results.failed("stack.active", STACK, f"{len(active)} instances are active and deep-healthy: {seen}")
    else:
        results.failed("stack.active", STACK, f"no instance is active and deep-healthy: {seen}")
    return None


async def _order_checks(http: Http, view: InstanceView, active: InstanceView | None,
                        views: list[InstanceView], venue: VenueAdmin, ledger_unusable: str | None,
                        options: CheckOptions, results: Results) -> None:
    name = view.name
    if view is active:
        results.skipped("orders.refused", name, "the active instance (the round trip runs here)")
        await guarded(results, ROUND_TRIP, name,
                      round_trip(http, view, venue, ledger_unusable, options.symbol, results))
        if options.trade:
            await guarded(results, ["positions.round_trip"], name,
                          position_round_trip(http, view, options.symbol, options.settle_s, results))
        else:
            results.skipped("positions.round_trip", name, "it trades: pass --trade to run it")
        return
    why = (f"not the active instance (the round trip runs on {active.name})" if active is not None
           else "no instance is active and deep-healthy (stack.active failed)")
    results.skip_rest([*ROUND_TRIP, "positions.round_trip"], name, why)
    if len(views) == 1:
        results.skipped("orders.refused", name, "only one instance: there is no other to refuse orders")
    elif view.role is None:
        results.skipped("orders.refused", name, "its role is unknown (GET /role did not conform)")
    elif view.role == "active":
        results.skipped("orders.refused", name, "it says it is active (deep health not 200): it might trade")
    else:
        await guarded(results, ["orders.refused"], name, refused_by(http, view, options.symbol, results))
