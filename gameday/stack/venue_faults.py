"""Exchange faults through the venue's admin API (``PUT``/``DELETE /faults/<kind>``), for any stack
whose venue is ours."""

from __future__ import annotations

from typing import Any

import aiohttp

from gameday.scenario.faults import ExchangeFaultKind
from gameday.stack.errors import StackError

__all__ = ["heal_exchange_fault", "put_exchange_fault"]

TIMEOUT = aiohttp.ClientTimeout(total=5)


async def put_exchange_fault(session: aiohttp.ClientSession, venue_admin: str, kind: ExchangeFaultKind,
                             params: dict[str, Any]) -> dict[str, Any]:
    """Switch a venue fault on; returns what the venue stored."""
    async with session.put(f"{venue_admin}/faults/{kind.value}", json=params, timeout=TIMEOUT) as response:
        body = await response.json(content_type=None)
        if response.status != 200:
            raise StackError(f"the venue refused fault {kind.value} {params}: {response.status} {body}")
    return body if isinstance(body, dict) else {"stored": body}


async def heal_exchange_fault(session: aiohttp.ClientSession, venue_admin: str,
                              kind: ExchangeFaultKind) -> None:
    async with session.delete(f"{venue_admin}/faults/{kind.value}", timeout=TIMEOUT) as response:
        if response.status not in (200, 204):
            raise StackError(f"the venue did not heal fault {kind.value}: {response.status}")
