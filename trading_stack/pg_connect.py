"""Reach the writable primary of a multi-host DSN, one host at a time, each with its own bound.

asyncpg tries the hosts of ``postgresql://u@h1:p1,h2:p2/db`` in order under one ``timeout`` for
the lot: a first host that accepts TCP but never answers (a SIGSTOPped server) eats the whole
budget, and the primary on the second host is never asked. Here the DSN is split into one DSN
per host (``target_session_attrs=read-write`` on each: a replica is refused), and each attempt
gets a bound of its own:

- a pass asks every host in order; an earlier host gets ``connect_timeout_s``, the last host of
  a pass that will not be retried gets whatever is left;
- with ``retry``, passes repeat (the per-host bound doubling, up to 4x) until ``deadline_s``;
- the work runs on the first read-write session; if the connection fails under it, the next
  host is asked (so the work must be idempotent).

When no host served, :class:`PrimaryUnavailable` (a ``TimeoutError``) says what each host did.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
from asyncpg.exceptions import InternalClientError

__all__ = ["HOST_ERRORS", "PrimaryPolicy", "PrimaryUnavailable", "connect_primary", "host_dsns", "on_primary"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Connect = Callable[[str], Awaitable[asyncpg.Connection]]
Work = Callable[[asyncpg.Connection], Awaitable[T]]
Attempt = Callable[[str, float, float], Awaitable[T]]  # (host DSN, connect bound, work bound)

# a host that refused, timed out, is a replica, or lost the connection: ask the next one
HOST_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, InternalClientError)
MAX_ESCALATION = 4
CLOSE_TIMEOUT_S = 1.0


class PrimaryUnavailable(TimeoutError):
    """No host of the DSN gave a read-write session (and did the work) within the deadline."""

    def __init__(self, deadline_s: float, failures: dict[str, str]) -> None:
        tried = "; ".join(f"{host}: {error}" for host, error in failures.items()) or "no attempt"
        super().__init__(f"no writable primary within {deadline_s:.1f}s ({tried})")
        self.failures = failures


@dataclass(frozen=True)
class PrimaryPolicy:
    connect_timeout_s: float = 1.0  # per host, first pass
    deadline_s: float = 3.0  # everything, work included
    retry: bool = False  # passes repeat until the deadline
    work_timeout_s: float = 2.0  # per attempt's work, when retrying (else: what is left)
    backoff_s: float = 0.1  # between passes, doubling up to 1 s


def host_dsns(dsn: str) -> list[str]:
    """One DSN per host of ``dsn``, in order, each requiring a read-write session (pure)."""
    parts = urlsplit(dsn)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "target_session_attrs"]
    query.append(("target_session_attrs", "read-write"))
    return [urlunsplit((parts.scheme, f"{userinfo}{at}{host}", parts.path, urlencode(query), parts.fragment))
            for host in (hosts.split(",") if hosts else [""])]


def _host_of(dsn: str) -> str:
    return urlsplit(dsn).netloc.rpartition("@")[2] or "(default host)"


async def _asyncpg_connect(dsn: str) -> asyncpg.Connection:
    connection: asyncpg.Connection = await asyncpg.connect(dsn)
    return connection


async def _close(connection: asyncpg.Connection) -> None:
    try:
        await connection.close(timeout=CLOSE_TIMEOUT_S)
    except Exception:
        connection.terminate()


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


async def _connected(dsn: str, connect_s: float, connect: Connect) -> asyncpg.Connection:
    async with asyncio.timeout(connect_s):
        return await connect(dsn)


async def on_primary(dsn: str, work: Work[T], policy: PrimaryPolicy = PrimaryPolicy(),
                     connect: Connect = _asyncpg_connect) -> T:
    """``work(connection)`` on the writable primary of ``dsn`` (see the module docstring)."""

    async def attempt(host_dsn: str, connect_s: float, work_s: float) -> T:
        connection = await _connected(host_dsn, connect_s, connect)
        try:
            async with asyncio.timeout(work_s):
                result = await work(connection)
        except BaseException:
            connection.terminate()
            raise
        await _close(connection)
        return result

    return await _first_served(dsn, policy, attempt)


async def connect_primary(dsn: str, policy: PrimaryPolicy = PrimaryPolicy(),
                          connect: Connect = _asyncpg_connect) -> asyncpg.Connection:
    """A connection to the writable primary of ``dsn``, left open (the caller closes it)."""

    async def attempt(host_dsn: str, connect_s: float, _work_s: float) -> asyncpg.Connection:
        return await _connected(host_dsn, connect_s, connect)

    return await _first_served(dsn, policy, attempt)


async def _first_served(dsn: str, policy: PrimaryPolicy, attempt: Attempt[T]) -> T:
    """Passes over the hosts (bounds per the module docstring) until one attempt succeeds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + policy.deadline_s
    hosts = host_dsns(dsn)
    failures: dict[str, str] = {}
    backoff = policy.backoff_s
    for escalation in itertools.count():
        per_host = policy.connect_timeout_s * min(MAX_ESCALATION, 2 ** escalation)
        for index, host_dsn in enumerate(hosts):
            left = deadline - loop.time()
            if left <= 0:
                raise PrimaryUnavailable(policy.deadline_s, failures)
            last_chance = not policy.retry and index == len(hosts) - 1
            connect_s = left if last_chance else min(per_host, left)
            work_s = min(policy.work_timeout_s, left) if policy.retry else left
            try:
                return await attempt(host_dsn, connect_s, work_s)
            except HOST_ERRORS as err:
                if isinstance(err, asyncpg.ClientConfigurationError):
                    raise
                host = _host_of(host_dsn)
                failures[host] = _describe(err)
                log.warning("database host %s not usable: %s", host, failures[host])
        left = deadline - loop.time()
        if not policy.retry or left <= 0:
            break
        await asyncio.sleep(min(backoff, left))
        backoff = min(1.0, backoff * 2)
    raise PrimaryUnavailable(policy.deadline_s, failures)
