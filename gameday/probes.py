"""Periodic samplers that write to the history, and the final-state capture graded at the end."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

import aiohttp
import asyncpg

from gameday.history import History, OpKind, OpType
from gameday.oms_api import DEFAULT_API, Endpoint, OmsApi, Reply
from gameday.store_drained import all_drained, store_states
from gameday.venue_reads import VenueReader
from gameday.workload import FrontDoor, OrderRequest, reference_price

QUIET_WINDOW_S = 0.25
"""How long the venue must stay unchanged before the OMS's view of it is read (in-region stacks)."""
DATABASE_QUIET_S = 1.0
"""How long the database's fills must stay unchanged before an incomplete capture is recorded."""
PROBE_TIMEOUT = aiohttp.ClientTimeout(total=1.0)
"""The bound on each read of an instance (role, deep health, positions, open orders)."""
ACTIVE_POLL_S = 0.25
"""How often :func:`sample_until_active` samples the instances."""


async def every(interval_s: float, tick: Any, stop: asyncio.Event | None = None) -> None:
    """Call ``tick`` on a fixed grid; a slow tick skips the grid points it overran. Once ``stop`` is
    set, no tick starts (one under way finishes)."""
    start = time.monotonic()
    n = 0
    while stop is None or not stop.is_set():
        await tick()
        n = max(n + 1, int((time.monotonic() - start) / interval_s) + 1)
        delay = max(0.0, start + n * interval_s - time.monotonic())
        if stop is None:
            await asyncio.sleep(delay)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)


async def trade_probe(door: FrontDoor, history: History, symbols: str | Sequence[str],
                      interval_s: float, stop: asyncio.Event | None = None) -> None:
    """"Can we trade?": a tiny order far from the market, acknowledged then cancelled.

    Stop it with ``stop``, not by cancelling it: a probe cancelled between its order and that
    order's cancel leaves the order resting at the venue, and the run's final state would hold it.

    Each tick probes the next of ``symbols`` in turn and records the symbol on the invoke and the
    completion, so a venue halt of one symbol reads as the venue's state, not as an outage.
    """
    probed = (symbols,) if isinstance(symbols, str) else tuple(symbols)
    requests = {symbol: OrderRequest(symbol, "buy", 1, "limit", round(reference_price(symbol) * 0.5, 2))
                for symbol in probed}
    rotation = itertools.cycle(probed)

    async def tick() -> None:
        symbol = next(rotation)
        history.append(OpKind.PROBE, OpType.INVOKE, "probe-trade", "trade", {"symbol": symbol})
        started = time.monotonic_ns()
        placement = await door.place(requests[symbol])
        latency_ms = (time.monotonic_ns() - started) / 1e6
        if placement.status == "ok" and placement.instance is not None:
            history.append(OpKind.PROBE, OpType.OK, "probe-trade", "trade", {
                "instance": placement.instance, "symbol": symbol, "order_id": placement.body.get("order_id"),
                "exchange_order_id": placement.body.get("exchange_order_id"), "latency_ms": latency_ms})
            await door.cancel(placement.instance, str(placement.body.get("order_id")))
        else:
            history.append(OpKind.PROBE, OpType(placement.status), "probe-trade", "trade",
                           {**placement.body, "symbol": symbol, "tried": placement.tried,
                            "latency_ms": latency_ms})

    await every(interval_s, tick, stop)


async def _read(reply: Awaitable[Reply]) -> tuple[int, Any]:
    """An instance's answer as (status, JSON body); (0, the error) when the call raised, whatever an
    adapter raised: the sample records it, the probe goes on."""
    try:
        answer = await reply
        return answer.status, answer.json()
    except Exception as error:
        return 0, {"error": f"{type(error).__name__}: {error}"}


def _endpoints(session: aiohttp.ClientSession, oms_urls: Mapping[str, str]) -> dict[str, Endpoint]:
    return {name: Endpoint(name, url, session, PROBE_TIMEOUT) for name, url in oms_urls.items()}


async def sample_roles(session: aiohttp.ClientSession, oms_urls: Mapping[str, str], *,
                       api: OmsApi = DEFAULT_API) -> dict[str, dict[str, Any]]:
    """Each instance's role and whether its deep health is 200, asked through ``api``."""

    async def one(at: Endpoint) -> dict[str, Any]:
        (role_status, role), (deep_status, _) = await asyncio.gather(
            _read(api.role(at)), _read(api.deep_health(at)))
        sample = {"role": role.get("role") if role_status == 200 else None, "deep_ok": deep_status == 200}
        if role_status == 200 and role.get("version") is not None:
            sample["version"] = role["version"]  # the build, on stacks that deploy new ones
        return sample

    samples = await asyncio.gather(*(one(at) for at in _endpoints(session, oms_urls).values()))
    return dict(zip(oms_urls, samples, strict=True))


async def sample_until_active(session: aiohttp.ClientSession, oms_urls: Mapping[str, str], timeout_s: float,
                              poll_s: float = ACTIVE_POLL_S, *, api: OmsApi = DEFAULT_API,
                              ) -> tuple[str | None, dict[str, dict[str, Any]]]:
    """Sample the instances until one is active and deep-healthy, for at most ``timeout_s``: its name
    (``None``: none was), and the last samples (:func:`sample_roles`)."""
    deadline = time.monotonic() + timeout_s
    roles: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        roles = await sample_roles(session, oms_urls, api=api)
        for name, sample in roles.items():
            if sample["role"] == "active" and sample["deep_ok"]:
                return name, roles
        await asyncio.sleep(poll_s)
    return None, roles


async def health_probe(session: aiohttp.ClientSession, oms_urls: Mapping[str, str], history: History,
                       interval_s: float, *, api: OmsApi = DEFAULT_API) -> None:
    async def tick() -> None:
        history.append(OpKind.PROBE, OpType.OK, "probe-health", "health",
                       {"instances": await sample_roles(session, oms_urls, api=api)})

    await every(interval_s, tick)


def _ledger_fingerprint(ledger: dict[str, Any]) -> tuple[int, int, int]:
    """Orders, order events (every state change) and fills: equal fingerprints, nothing happened."""
    orders = ledger.get("orders", [])
    events = sum(len(order.get("events", [])) for order in orders)
    return len(orders), events, len(ledger.get("fills", []))


async def capture_final_state(
    session: aiohttp.ClientSession, oms_urls: Mapping[str, str], venue_admin_url: str, history: History,
    *, quiet_s: float = QUIET_WINDOW_S, settle_timeout_s: float = 10.0, venue_admin_token: str | None = None,
    api: OmsApi = DEFAULT_API,
) -> None:
    """Record what the OMS believes and what the venue saw, bracketed so they agree in time.

    Reads the ledger, waits ``quiet_s``, reads every instance, then the ledger again. The pair is
    ``stable`` only when the two ledger reads are the same: then the venue's last change happened
    at least ``quiet_s`` before the OMS was read, long enough for its reports to arrive when
    ``quiet_s`` exceeds the one-way delivery time (a cross-region stack's WAN latency). Retries
    until stable or the settle timeout, and records the last attempt either way, with the venue's
    market-data lines (read once, at the end: the bracket's reads leave them out). The ledger reads
    carry ``venue_admin_token`` as a bearer token when the venue requires one; a read the venue
    refuses (a 401 for a wrong token) is recorded as a failed snapshot, never as an empty ledger.
    """
    deadline = time.monotonic() + settle_timeout_s
    venue = VenueReader(session, venue_admin_url, venue_admin_token)
    before = await venue.ledger()
    while True:
        await asyncio.sleep(quiet_s)
        endpoints = _endpoints(session, oms_urls)
        states = await asyncio.gather(*(_instance_state(api, at) for at in endpoints.values()))
        instances = dict(zip(endpoints, states, strict=True))
        after = await venue.ledger()
        stable = before.ok and after.ok and (
            _ledger_fingerprint(before.body) == _ledger_fingerprint(after.body))
        active = [name for name, state in instances.items() if state["role"] == "active"]
        if stable or time.monotonic() >= deadline:
            history.append(OpKind.PROBE, OpType.OK, "probe-final", "final-state",
                           {"active": active[0] if active else None, "active_all": active,
                            "instances": instances, "stable": stable, "quiet_s": quiet_s})
            kept = await venue.with_market_data(after)
            history.append(OpKind.LEDGER, OpType.OK if kept.ok else OpType.FAIL, "venue", "snapshot",
                           kept.body)
            return
        before = after


async def _instance_state(api: OmsApi, at: Endpoint) -> dict[str, Any]:
    """One instance's role, positions and open orders, read at once (``None`` for what it did not give)."""
    (_, role), (_, positions), (open_status, open_orders) = await asyncio.gather(
        _read(api.role(at)), _read(api.positions(at)), _read(api.open_orders(at)))
    return {
        "role": role.get("role") if isinstance(role, dict) else None,
        "positions": positions.get("positions") if isinstance(positions, dict) else None,
        "open_orders": open_orders if open_status == 200 else None,
    }


async def wait_for_active(
    session: aiohttp.ClientSession, oms_urls: Mapping[str, str], timeout_s: float, *,
    api: OmsApi = DEFAULT_API,
) -> str | None:
    """After the timeline, give a failover in progress a bounded time to finish."""
    active, _ = await sample_until_active(session, oms_urls, timeout_s, poll_s=0.1, api=api)
    return active


# --- the database the OMS writes (the reference stack's tables) --------------------------------

DATABASE_FILLS = ("SELECT exec_id, cl_ord_id, symbol, "
                  "(extract(epoch FROM committed_at) * 1000000)::bigint AS written_us FROM oms_fills")
DATABASE_ORDERS = ("SELECT cl_ord_id, status, "
                   "(extract(epoch FROM updated_at) * 1000000)::bigint AS written_us FROM oms_orders")
_DATABASE_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


async def _fetch_rows(connection: Any, query: str, offset_ns: int) -> list[dict[str, Any]]:
    """Rows as dicts, their wall-clock ``written_us`` turned into ``written_ns`` on the history clock."""
    try:
        records = await connection.fetch(query)
    except asyncpg.UndefinedTableError:  # the OMS never wrote
        return []
    rows = []
    for record in records:
        row = dict(record)
        row["written_ns"] = row.pop("written_us") * 1000 - offset_ns
        rows.append(row)
    return sorted(rows, key=lambda row: row["written_ns"])


async def read_database(dsn: str) -> dict[str, Any]:
    """The fills and orders in the database ``dsn`` reaches, each with when it was last written."""
    offset_ns = time.time_ns() - time.monotonic_ns()  # the server shares this host's wall clock
    connection = await asyncpg.connect(dsn, timeout=5.0)
    try:
        return {
            "server_port": await connection.fetchval("SELECT inet_server_port()"),
            "in_recovery": await connection.fetchval("SELECT pg_is_in_recovery()"),
            "fills": await _fetch_rows(connection, DATABASE_FILLS, offset_ns),
            "orders": await _fetch_rows(connection, DATABASE_ORDERS, offset_ns),
        }
    finally:
        await connection.close()


def _ledger_exec_ids(history: History) -> set[str]:
    snapshots = [op for op in history.ops if op.kind == OpKind.LEDGER and op.type == OpType.OK]
    fills = snapshots[-1].value.get("fills", []) if snapshots else []
    return {str(fill.get("exec_id")) for fill in fills if isinstance(fill, dict)}


async def capture_database(dsn: str, history: History, *, settle_timeout_s: float = 5.0,
                           quiet_s: float = DATABASE_QUIET_S, session: aiohttp.ClientSession | None = None,
                           oms_urls: Mapping[str, str] | None = None, api: OmsApi = DEFAULT_API) -> None:
    """Record the OMS's database (whichever server is the primary now) after the ledger snapshot.

    Waits, bounded, until it holds every fill of that snapshot (an OMS may still be writing the
    last ones), or until nobody is writing the rest (after a crash some fills never reach the
    database, which is for ``fills.lost`` to grade): the instances (``oms_urls``, asked over
    ``session``) say their store has drained (:mod:`gameday.store_drained`), the database being read
    after they said so; without that signal, its fills have not changed for ``quiet_s``.
    ``complete`` says whether it holds them all, ``settled_by`` why the wait ended. Unreachable: a
    ``fail`` op with the error.
    """
    expected = _ledger_exec_ids(history)
    started = last_change = time.monotonic()
    previous: set[str] | None = None
    while True:
        drained = None
        if session is not None and oms_urls:
            drained = all_drained(await store_states(api, _endpoints(session, oms_urls)))
        try:
            snapshot = await read_database(dsn)
        except _DATABASE_ERRORS as error:
            snapshot = {"error": f"{type(error).__name__}: {error}"}
        stored = {fill["exec_id"] for fill in snapshot.get("fills", [])}
        now = time.monotonic()
        if stored != previous:
            previous, last_change = stored, now
        waited_s = round(now - started, 3)
        settled_by = _settled_by(
            complete="error" not in snapshot and expected <= stored,
            drained="error" not in snapshot and drained is True,
            quiet="error" not in snapshot and drained is None and now - last_change >= quiet_s,
            timed_out=waited_s >= settle_timeout_s)
        if settled_by is not None:
            outcome = OpType.FAIL if "error" in snapshot else OpType.OK
            history.append(OpKind.PROBE, outcome, "probe-database", "database",
                           {**snapshot, "complete": settled_by == "complete", "waited_s": waited_s,
                            "settled_by": settled_by})
            return
        await asyncio.sleep(0.1)


def _settled_by(**conditions: bool) -> str | None:
    """The first condition that holds (in the order given), or None to keep waiting."""
    return next((name for name, holds in conditions.items() if holds), None)
