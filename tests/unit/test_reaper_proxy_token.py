"""The reaper deletes a killed run's proxies on a server that needs an API token, with the token the
run recorded (its proxy record only, 0600); a token the server refuses is reported, never raised."""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from gameday.faults.toxiproxy_client import ToxiproxyClient
from gameday.proxy.server import ToxiproxyServer
from gameday.stack.reaper import reap_stale_runs
from gameday.stack.rundir import ProxyRecord, RunDir

TOKEN = "the-run's-proxy-token"
HOPS = ("failover->oms-primary", "oms-primary->exchange")
PROXIES = [{"name": hop, "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1", "enabled": True} for hop in HOPS]


@dataclass(frozen=True)
class _Guarded:
    """A server that needs :data:`TOKEN`, a session, and a client of every proxy on it."""

    url: str
    session: aiohttp.ClientSession
    admin: ToxiproxyClient

    async def populate_as(self, run: RunDir) -> ToxiproxyClient:
        """The proxies of :data:`HOPS` created as ``run``'s, recorded as the harness records them."""
        owner = ToxiproxyClient(self.url, self.session, owner=run.run_id, record=run.proxy_record,
                                token=TOKEN)
        await owner.populate(PROXIES)
        return owner


@asynccontextmanager
async def _guarded_server() -> AsyncIterator[_Guarded]:
    async with ToxiproxyServer("127.0.0.1", 0, seed=1, token=TOKEN) as server, \
            aiohttp.ClientSession() as session:
        yield _Guarded(server.url, session, ToxiproxyClient(server.url, session, token=TOKEN))


def _killed_run(record: ProxyRecord, **changes: object) -> None:
    """``record`` as a harness that has died left it, with ``changes`` to its content."""
    child = subprocess.Popen(["true"])
    child.wait()
    content = json.loads(record.path.read_text())
    content.update(harness={"pid": child.pid, "start_ticks": 1}, **changes)
    record.path.write_text(json.dumps(content))


@pytest.mark.timeout(30)
async def test_a_killed_runs_proxies_on_a_token_protected_server_are_deleted_with_its_recorded_token(
        tmp_path: Path) -> None:
    killed = RunDir(tmp_path, "s", run_id="killed")
    async with _guarded_server() as server:
        owner = await server.populate_as(killed)
        record = killed.proxy_record
        assert stat.S_IMODE(record.path.stat().st_mode) == 0o600  # it holds the token
        assert record.tokens() == {server.url: TOKEN}
        _killed_run(record)

        [reaped] = await asyncio.to_thread(reap_stale_runs, tmp_path)

        assert sorted(reaped.proxies) == sorted(owner.proxy_name(hop) for hop in HOPS)
        assert reaped.refused == ()
        assert await server.admin.proxies() == {}
    assert not record.path.exists()


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("recorded", "why"), [
    ("not-the-token", "HTTP 401 (the recorded API token was refused)"),
    (None, "HTTP 401 (the server needs an API token)"),  # a record written before tokens were
], ids=["wrong-token", "no-token"])
async def test_a_token_the_server_refuses_is_reported_and_the_proxies_left_alone(
        tmp_path: Path, recorded: str | None, why: str) -> None:
    killed = RunDir(tmp_path, "s", run_id="killed")
    async with _guarded_server() as server:
        owner = await server.populate_as(killed)
        _killed_run(killed.proxy_record, tokens={} if recorded is None else {server.url: recorded})

        [reaped] = await asyncio.to_thread(reap_stale_runs, tmp_path)

        assert reaped.proxies == ()
        assert sorted(reaped.refused) == sorted(f"{owner.proxy_name(hop)} on {server.url}: {why}"
                                                for hop in HOPS)
        assert set(await server.admin.proxies()) == {owner.proxy_name(hop) for hop in HOPS}  # not deleted
    assert not killed.proxy_record.path.exists()  # reported once: no later run retries in vain
