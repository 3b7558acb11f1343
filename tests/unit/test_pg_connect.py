"""Finding the writable primary host by host (no database: a scripted connect): a host that
never answers costs its own bound only, passes repeat until the deadline when retrying, and
the error says what each host did."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

import asyncpg
import pytest

from trading_stack.pg_connect import PrimaryPolicy, PrimaryUnavailable, connect_primary, host_dsns, on_primary

DSN = "postgresql://postgres@10.0.0.1:5432,10.0.0.2:5433/oms?target_session_attrs=read-write"


def test_a_multi_host_dsn_is_split_in_order_each_requiring_read_write() -> None:
    assert host_dsns(DSN) == [
        "postgresql://postgres@10.0.0.1:5432/oms?target_session_attrs=read-write",
        "postgresql://postgres@10.0.0.2:5433/oms?target_session_attrs=read-write",
    ]
    assert host_dsns("postgres://u:p%40w@db/x?sslmode=disable") == [
        "postgres://u:p%40w@db/x?sslmode=disable&target_session_attrs=read-write"]
    assert host_dsns("postgresql://h1,h2:6000/db?target_session_attrs=any") == [
        "postgresql://h1/db?target_session_attrs=read-write",
        "postgresql://h2:6000/db?target_session_attrs=read-write"]


class Conn:
    def __init__(self, host: str) -> None:
        self.host = host
        self.closed = False

    async def close(self, **_options: Any) -> None:
        self.closed = True

    def terminate(self) -> None:
        self.closed = True


class Hosts:
    """Per host: "frozen" (never answers), "refused", "replica" or "primary"."""

    def __init__(self, **behaviour: str) -> None:
        self.behaviour = behaviour
        self.attempts: list[str] = []

    async def connect(self, dsn: str) -> asyncpg.Connection:
        host = dsn.split("@")[1].split("/")[0].split(":")[0]
        self.attempts.append(host)
        kind = self.behaviour[host]
        if kind == "frozen":
            await asyncio.Event().wait()
        if kind == "refused":
            raise ConnectionRefusedError("refused")
        if kind == "replica":
            raise asyncpg.exceptions.TargetServerAttributeNotMatched("read-only")
        return cast(asyncpg.Connection, Conn(host))


async def host_of(connection: Any) -> str:
    return str(connection.host)


async def test_a_frozen_first_host_costs_its_connect_bound_then_the_primary_serves() -> None:
    hosts = Hosts(**{"10.0.0.1": "frozen", "10.0.0.2": "primary"})
    started = time.monotonic()
    served = await on_primary(DSN, host_of, PrimaryPolicy(connect_timeout_s=0.2, deadline_s=10.0),
                              hosts.connect)
    assert served == "10.0.0.2"
    assert 0.2 <= time.monotonic() - started < 2.0
    assert hosts.attempts == ["10.0.0.1", "10.0.0.2"]


async def test_a_replica_is_skipped_for_the_primary_behind_it() -> None:
    hosts = Hosts(**{"10.0.0.1": "replica", "10.0.0.2": "primary"})
    connection = await connect_primary(DSN, PrimaryPolicy(), hosts.connect)
    assert cast(Conn, connection).host == "10.0.0.2"
    assert not cast(Conn, connection).closed


async def test_without_retry_one_pass_fails_with_what_each_host_did() -> None:
    hosts = Hosts(**{"10.0.0.1": "refused", "10.0.0.2": "replica"})
    with pytest.raises(PrimaryUnavailable) as raised:
        await on_primary(DSN, host_of, PrimaryPolicy(deadline_s=5.0), hosts.connect)
    assert hosts.attempts == ["10.0.0.1", "10.0.0.2"]
    assert set(raised.value.failures) == {"10.0.0.1:5432", "10.0.0.2:5433"}
    assert "ConnectionRefusedError" in raised.value.failures["10.0.0.1:5432"]
    assert isinstance(raised.value, TimeoutError)


async def test_with_retry_passes_repeat_until_a_primary_appears() -> None:
    hosts = Hosts(**{"10.0.0.1": "refused", "10.0.0.2": "replica"})
    policy = PrimaryPolicy(connect_timeout_s=0.1, deadline_s=10.0, retry=True, backoff_s=0.01)
    serving = asyncio.create_task(on_primary(DSN, host_of, policy, hosts.connect))
    deadline = time.monotonic() + 5.0
    while hosts.attempts.count("10.0.0.2") < 3:  # three passes, every one refused
        assert time.monotonic() < deadline
        assert not serving.done()
        await asyncio.sleep(0.01)
    hosts.behaviour["10.0.0.2"] = "primary"  # the replica is promoted
    assert await asyncio.wait_for(serving, 5.0) == "10.0.0.2"


async def test_with_retry_the_deadline_bounds_everything() -> None:
    hosts = Hosts(**{"10.0.0.1": "frozen", "10.0.0.2": "frozen"})
    policy = PrimaryPolicy(connect_timeout_s=0.1, deadline_s=0.8, retry=True, backoff_s=0.01)
    started = time.monotonic()
    with pytest.raises(PrimaryUnavailable, match=r"within 0\.8s"):
        await on_primary(DSN, host_of, policy, hosts.connect)
    assert 0.8 <= time.monotonic() - started < 1.5
    assert hosts.attempts.count("10.0.0.1") >= 2  # more than one pass


async def test_a_failing_work_moves_on_to_the_next_host_and_closes_the_connection() -> None:
    hosts = Hosts(**{"10.0.0.1": "primary", "10.0.0.2": "primary"})
    used: list[Conn] = []

    async def work(connection: Any) -> str:
        used.append(connection)
        if connection.host == "10.0.0.1":
            raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")
        return str(connection.host)

    assert await on_primary(DSN, work, PrimaryPolicy(), hosts.connect) == "10.0.0.2"
    assert [(c.host, c.closed) for c in used] == [("10.0.0.1", True), ("10.0.0.2", True)]


async def test_a_configuration_error_is_not_retried() -> None:
    async def connect(dsn: str) -> asyncpg.Connection:
        raise asyncpg.ClientConfigurationError("bad sslmode")

    with pytest.raises(asyncpg.ClientConfigurationError):
        await on_primary(DSN, host_of, PrimaryPolicy(retry=True), connect)
