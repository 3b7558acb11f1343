"""Whether the OMS instances have written everything they will write to their database.

An instance that reports its store writer in ``/health/deep`` (docs/contracts.md §4: ``store`` with
``drained`` and ``writing``) says so itself: ``drained`` (nothing queued or in flight), or not
``writing`` (its writer stopped or gave up: what is queued will never be written). An instance that
does not answer writes nothing either (killed, or gone). A stack none of whose instances report it
gets no signal: the database capture then waits for its fills to stop changing instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from gameday.oms_api import Endpoint, OmsApi


class StoreState(StrEnum):
    DRAINED = "drained"  # every row it saved is in the database
    STOPPED = "stopped"  # rows queued that no writer will write
    WRITING = "writing"  # rows queued, a writer at work
    SILENT = "silent"  # answered without saying (a target whose OMS does not report it)
    GONE = "gone"  # did not answer


def store_state(status: int, body: Any) -> StoreState:
    """One instance's state from its ``/health/deep`` answer (200 or 503 alike: a standby is 503)."""
    if status == 0:
        return StoreState.GONE
    store = body.get("store") if isinstance(body, dict) else None
    if not isinstance(store, dict) or not isinstance(store.get("drained"), bool):
        return StoreState.SILENT
    if store["drained"]:
        return StoreState.DRAINED
    return StoreState.WRITING if store.get("writing", True) is not False else StoreState.STOPPED


def all_drained(states: Mapping[str, StoreState]) -> bool | None:
    """True once no instance is writing and one at least reported; False while one is writing; None
    (no signal) when an instance answered without reporting, or none answered."""
    values = set(states.values())
    if StoreState.SILENT in values or values <= {StoreState.GONE}:
        return None
    return StoreState.WRITING not in values


async def store_states(api: OmsApi, endpoints: Mapping[str, Endpoint]) -> dict[str, StoreState]:
    async def one(at: Endpoint) -> StoreState:
        try:
            reply = await api.deep_health(at)
            return store_state(reply.status, reply.json())
        except Exception:  # whatever an adapter raised: this instance says nothing
            return StoreState.GONE

    states = await asyncio.gather(*(one(at) for at in endpoints.values()))
    return dict(zip(endpoints, states, strict=True))
