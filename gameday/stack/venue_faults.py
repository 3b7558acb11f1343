"""Exchange faults through the venue's admin API (``PUT``/``DELETE /faults/<kind>``), for any stack
whose venue is ours."""

from __future__ import annotations

from typing import Any

import aiohttp

from gameday.scenario.faults import ExchangeFaultKind
from gameday.stack.errors import StackError

__all__ = ["heal_exchange_fault", "put_exchange_fault", "venue_admin_headers"]

TIMEOUT = aiohttp.ClientTimeout(total=5)


def venue_admin_headers(token: str | None) -> dict[str, str]:
    """What every request to the venue's admin API carries: its bearer token, when it has one."""
    return {} if token is None else {"Authorization": f"Bearer {token}"}


async def put_exchange_fault(session: aiohttp.ClientSession, venue_admin: str, kind: ExchangeFaultKind,
                             params: dict[str, Any], *, token: str | None = None) -> dict[str, Any]:
    """Switch a venue fault on; returns what the venue stored."""
    async with session.put(f"{venue_admin}/faults/{kind.value}", json=params, timeout=TIMEOUT,
                           headers=venue_admin_headers(token)) as response:
        body = await response.json(content_type=None)
        if response.status != 200:
            raise StackError(f"the venue refused fault {kind.value} {params}: {response.status} {body}")
    return body if isinstance(body, dict) else {"stored": body}


async def heal_exchange_fault(session: aiohttp.ClientSession, venue_admin: str,
                              kind: ExchangeFaultKind, *, token: str | None = None) -> None:
    async with session.delete(f"{venue_admin}/faults/{kind.value}", timeout=TIMEOUT,
                              headers=venue_admin_headers(token)) as response:
        if response.status not in (200, 204):
            raise StackError(f"the venue did not heal fault {kind.value}: {response.status}")
