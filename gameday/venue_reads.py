"""The venue's admin API as the end of a run uses it (docs/contracts.md §3).

The final capture reads the ledger several times while it waits for the venue and the OMS to agree;
those reads leave the market-data lines out (``?market_data=false``: up to 100,000 of them), and the
read that is kept gets them once, paged (``GET /ledger/market-data?since=N``). Before the capture,
the venue's matching is stopped (``POST /matching/stop``) so resting orders stop filling while it
reads, and started again after it (an attached stack's venue goes on trading).

A venue without these routes (an older mock_exchange, another team's venue) answers 400 or 404: the
reads fall back to the whole ``GET /ledger`` and matching is left running, as before they existed.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import aiohttp

__all__ = ["LedgerRead", "MatchingState", "VenueReader", "get_json"]

LEDGER_TIMEOUT_S = 5.0
MATCHING_TIMEOUT = aiohttp.ClientTimeout(total=2.0)
UNSUPPORTED = frozenset({400, 404, 405})
"""How a venue without a route or query parameter answers it (contracts §3's errors)."""


async def get_json(session: aiohttp.ClientSession, url: str, timeout_s: float = 1.0,
                   headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """(status, JSON body); (0, ``{"error"}``) when the request failed or the body is not JSON."""
    try:
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with session.get(url, timeout=timeout, headers=headers) as response:
            return response.status, await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        return 0, {"error": f"{type(error).__name__}: {error}"}


@dataclass(frozen=True)
class LedgerRead:
    ok: bool
    body: dict[str, Any]
    """The ledger when ``ok``; else what went wrong (``error``, and the HTTP ``status`` if any)."""

    @classmethod
    def failed(cls, status: int, body: Any) -> LedgerRead:
        error = body.get("error") if isinstance(body, dict) else None
        return cls(False, {"error": str(error if error is not None else body)[:500],
                           **({"status": status} if status else {})})


class MatchingState(StrEnum):
    """What stopping the venue's matching came to (the ``capture`` phase's ``venue_matching``)."""

    STOPPED = "stopped"
    UNSUPPORTED = "unsupported"  # the venue has no /matching: it went on matching
    FAILED = "failed"  # the venue did not answer, or refused: it may go on matching


class VenueReader:
    """One venue's admin API for one capture: the reads above and the matching switch."""

    def __init__(self, session: aiohttp.ClientSession, admin_url: str, token: str | None) -> None:
        self._session = session
        self._url = admin_url
        self._headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        self._lean_ledger = True  # until the venue refuses ?market_data=false

    async def ledger(self) -> LedgerRead:
        """The ledger without its market-data lines (their count in ``market_data_total``), or whole
        from a venue that does not know the parameter."""
        if self._lean_ledger:
            status, body = await self._get("/ledger?market_data=false", LEDGER_TIMEOUT_S)
            if status not in UNSUPPORTED:
                return _ledger_of(status, body)
            self._lean_ledger = False
        return _ledger_of(*await self._get("/ledger", LEDGER_TIMEOUT_S))

    async def with_market_data(self, read: LedgerRead) -> LedgerRead:
        """``read`` as a whole ``GET /ledger`` gives it: its market-data lines up to its
        ``market_data_total``, read in pages; a failed page fails the read."""
        total = read.body.get("market_data_total") if read.ok else None
        if not isinstance(total, int) or isinstance(total, bool):
            return read
        lines: list[Any] = []
        since = 0
        while since < total:
            status, page = await self._get(f"/ledger/market-data?since={since}", LEDGER_TIMEOUT_S)
            if status != 200 or not isinstance(page, dict) or not isinstance(page.get("lines"), list):
                return LedgerRead.failed(status, page)
            if not page["lines"]:
                break
            lines += page["lines"][: total - int(page.get("first", since))]
            since = int(page.get("next", since + len(page["lines"])))
        body = {key: value for key, value in read.body.items() if key != "market_data_total"}
        return LedgerRead(True, {**body, "market_data": lines})

    @contextlib.asynccontextmanager
    async def matching_stopped(self) -> AsyncIterator[tuple[MatchingState, str]]:
        """Matching stopped for the block (with what that came to, and why when not stopped); started
        again after it, whatever the block raised."""
        state, detail = await self._switch_matching("stop")
        try:
            yield state, detail
        finally:
            if state is MatchingState.STOPPED:
                await self._switch_matching("start")

    async def _switch_matching(self, verb: str) -> tuple[MatchingState, str]:
        try:
            async with self._session.post(f"{self._url}/matching/{verb}", headers=self._headers,
                                          timeout=MATCHING_TIMEOUT) as response:
                status = response.status
                text = (await response.text())[:200]
        except (aiohttp.ClientError, TimeoutError) as error:
            return MatchingState.FAILED, f"{type(error).__name__}: {error}"
        if status == 200:
            return MatchingState.STOPPED, ""
        if status in UNSUPPORTED:
            return MatchingState.UNSUPPORTED, f"{status} {text}"
        return MatchingState.FAILED, f"{status} {text}"

    async def _get(self, path: str, timeout_s: float) -> tuple[int, Any]:
        return await get_json(self._session, f"{self._url}{path}", timeout_s, self._headers)


def _ledger_of(status: int, body: Any) -> LedgerRead:
    if status == 200 and isinstance(body, dict):
        return LedgerRead(True, body)
    return LedgerRead.failed(status, body)
