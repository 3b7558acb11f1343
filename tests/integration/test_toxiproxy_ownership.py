"""Two runs share one Toxiproxy server process and never touch each other's proxies; the proxies
of a run killed mid-way are deleted by the next run's reaper, and only those."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gameday.faults.toxiproxy_client import ToxiproxyClient
from gameday.proxy.testing import echo_server
from gameday.stack.process import ManagedProcess
from gameday.stack.reaper import reap_stale_runs
from gameday.stack.rundir import RunDir
from gameday.stack.services import start_python_service

pytestmark = pytest.mark.integration

HOPS = ("failover->oms-primary", "oms-dr->exchange")


@pytest.fixture
async def shared(tmp_path: Path) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    """A Toxiproxy server process and a session; the URL of its API."""
    started: list[ManagedProcess] = []
    async with aiohttp.ClientSession() as session:
        try:
            process = await start_python_service(
                "toxiproxy", "gameday.proxy", ["--host", "127.0.0.1", "--port", "0", "--seed", "1"],
                tmp_path / "toxiproxy.log", ready_url="http://127.0.0.1:{api}/version", session=session,
                on_spawn=started.append)
            yield f"http://127.0.0.1:{process.ports['api']}", session
        finally:
            for each in started:
                await each.stop()


async def _populate(client: ToxiproxyClient, upstream_port: int) -> dict[str, str]:
    """The listen address of each hop."""
    upstream = f"127.0.0.1:{upstream_port}"
    created = await client.populate([{"name": hop, "listen": "127.0.0.1:0", "upstream": upstream}
                                     for hop in HOPS])
    return {proxy["name"]: proxy["listen"] for proxy in created}


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


async def _server_proxies(url: str, session: aiohttp.ClientSession) -> dict[str, Any]:
    async with session.get(url + "/proxies") as response:
        result: dict[str, Any] = await response.json()
        return result


async def _echoes(listen: str) -> bool:
    host, port = listen.rsplit(":", 1)
    try:
        reader, writer = await asyncio.open_connection(host, int(port))
    except OSError:
        return False
    try:
        writer.write(b"ping")
        return await asyncio.wait_for(reader.readexactly(4), 2) == b"ping"
    finally:
        writer.close()


async def test_two_runs_on_one_server_see_heal_and_delete_only_their_own(
        shared: tuple[str, aiohttp.ClientSession], tmp_path: Path) -> None:
    url, session = shared
    run_a, run_b = RunDir(tmp_path, "s", run_id="run-a"), RunDir(tmp_path, "s", run_id="run-b")
    a = ToxiproxyClient(url, session, owner=run_a.run_id, record=run_a.proxy_record)
    b = ToxiproxyClient(url, session, owner=run_b.run_id, record=run_b.proxy_record)
    async with echo_server() as echo:
        listen_a, listen_b = await _populate(a, echo.port), await _populate(b, echo.port)
        assert set(listen_a) == set(listen_b) == set(HOPS)
        assert not set(listen_a.values()) & set(listen_b.values())
        assert set(await _server_proxies(url, session)) == {c.proxy_name(h) for c in (a, b) for h in HOPS}
        assert {hop: proxy["listen"] for hop, proxy in (await a.proxies()).items()} == listen_a

        for client in (a, b):
            await client.add_toxic(HOPS[0], "latency", name="slow", attributes={"latency": 50})
            await client.set_enabled(HOPS[1], False)
        await a.reset()
        mine, theirs = await a.proxies(), await b.proxies()
        assert [(p["enabled"], p["toxics"]) for p in mine.values()] == [(True, []), (True, [])]
        assert [t["name"] for t in theirs[HOPS[0]]["toxics"]] == ["slow"]
        assert theirs[HOPS[1]]["enabled"] is False
        assert await _echoes(listen_a[HOPS[1]])
        assert not await _echoes(listen_b[HOPS[1]])

        assert sorted(await a.delete_own()) == sorted(HOPS)
        assert await a.proxies() == {}
        assert set(await _server_proxies(url, session)) == {b.proxy_name(h) for h in HOPS}
        assert not run_a.proxy_record.path.exists()
        assert run_b.proxy_record.owned() == {url: [b.proxy_name(h) for h in HOPS]}
        assert await _echoes(listen_b[HOPS[0]])


async def test_the_next_run_reaps_a_killed_runs_proxies_and_no_one_elses(
        shared: tuple[str, aiohttp.ClientSession], tmp_path: Path) -> None:
    url, session = shared
    killed, alive = RunDir(tmp_path, "s", run_id="killed"), RunDir(tmp_path, "s", run_id="alive")
    unrecorded = ToxiproxyClient(url, session, owner="stranger")
    for client in (ToxiproxyClient(url, session, owner=killed.run_id, record=killed.proxy_record),
                   ToxiproxyClient(url, session, owner=alive.run_id, record=alive.proxy_record), unrecorded):
        await _populate(client, 1)
    record = json.loads(killed.proxy_record.path.read_text())
    record["harness"] = {"pid": _dead_pid(), "start_ticks": 1}
    killed.proxy_record.path.write_text(json.dumps(record))

    reaped = await asyncio.to_thread(reap_stale_runs, tmp_path)

    assert [(r.run_dir, sorted(r.proxies)) for r in reaped] == [
        (str(killed.path), sorted(f"gd-killed.{hop}" for hop in HOPS))]
    assert set(await _server_proxies(url, session)) == {
        f"gd-{owner}.{hop}" for owner in ("alive", "stranger") for hop in HOPS}
    assert not killed.proxy_record.path.exists()
    assert alive.proxy_record.path.exists()
