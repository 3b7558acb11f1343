"""HTTP for the contract check: every request bounded, every outcome an :class:`Answer`, nothing raised.

A stack under test may answer anything: a refused connection, a timeout, HTML from a proxy, a JSON
number where an object belongs. The probes judge answers; they never handle transport errors. The OMS
is asked through the target's :class:`~gameday.oms_api.OmsApi` (:meth:`Http.oms`), as a run asks it,
so an adapter is checked with the API it maps; an adapter that raises is an answer that never came.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from gameday.oms_api import DEFAULT_API, ContractApi, Endpoint, OmsApi, OmsOp, Reply

__all__ = ["EXCERPT_CHARS", "Answer", "Http", "VenueAdmin", "excerpt"]

EXCERPT_CHARS = 200
"""The most of a body a result quotes."""


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True)
class Answer:
    """What one request got: an HTTP status and body, or why there was none (``error``)."""

    method: str
    url: str
    status: int | None
    text: str = ""
    body: Any = None
    is_json: bool = False
    error: str | None = None

    def seen(self) -> str:
        """What was seen, for a result: the status and a body excerpt, or the error."""
        if self.status is None:
            return f"no answer: {self.error}"
        quoted = excerpt(self.text)
        return f"HTTP {self.status}: {quoted}" if quoted else f"HTTP {self.status} (empty body)"


class Http:
    """Requests with one total timeout each (connect, send, answer and body together); the OMS's
    through ``api``, redirects not followed (a redirect is an answer to judge)."""

    def __init__(self, session: aiohttp.ClientSession, timeout_s: float, api: OmsApi = DEFAULT_API) -> None:
        self._session = session
        self.timeout_s = timeout_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.api = api

    def at(self, name: str, url: str) -> Endpoint:
        return Endpoint(name, url, self._session, self._timeout, follow_redirects=False)

    async def oms(self, op: OmsOp, at: Endpoint, reply: Awaitable[Reply], **params: str) -> Answer:
        """What one call of the API got, as an :class:`Answer`."""
        method, _, url = self.api.describe(op, at, **params).partition(" ")
        try:
            got = await reply
        except TimeoutError:
            return Answer(method, url, None, error=f"no answer within {self.timeout_s:g} s")
        except (aiohttp.ClientError, OSError) as error:
            return Answer(method, url, None, error=f"{type(error).__name__}: {error}")
        except Exception as error:  # the adapter's own failure (a reply it could not translate)
            who = "" if type(self.api) is ContractApi else f"{self.api!r} raised "
            return Answer(method, url, None, error=f"{who}{type(error).__name__}: {error}")
        return Answer(method, url, got.status, got.text, got.body if got.is_json else None,
                      is_json=got.is_json)

    async def get(self, url: str) -> Answer:
        return await self.call("GET", url)

    async def call(self, method: str, url: str, *, body: Any = None, raw: bytes | None = None,
                   token: str | None = None) -> Answer:
        """``body`` is sent as JSON; ``raw`` as it is, labelled JSON (a malformed body on purpose)."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        if raw is not None:
            data: bytes | None = raw
            headers["Content-Type"] = "application/json"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        else:
            data = None
        try:
            async with self._session.request(method, url, data=data, headers=headers,
                                             timeout=self._timeout, allow_redirects=False) as response:
                payload = await response.read()
                status = response.status
        except TimeoutError:
            return Answer(method, url, None, error=f"no answer within {self.timeout_s:g} s")
        except (aiohttp.ClientError, OSError, ValueError) as error:
            return Answer(method, url, None, error=f"{type(error).__name__}: {error}")
        text = payload.decode("utf-8", errors="replace")
        try:
            return Answer(method, url, status, text, json.loads(payload), is_json=True)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested beyond reason
            return Answer(method, url, status, text)


@dataclass(frozen=True)
class VenueAdmin:
    """The venue's admin API: its base URL and the bearer token it requires, if any."""

    url: str
    token: str | None = field(default=None, repr=False)

    async def ledger(self, http: Http) -> Answer:
        return await http.call("GET", f"{self.url}/ledger", token=self.token)
