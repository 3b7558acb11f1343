"""A run's proxies on a shared Toxiproxy: owned names, the client's calls on them, the record the
reaper reads, and the reaper's bounds (tested against an in-process server)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gameday.faults import toxiproxy_client
from gameday.faults.toxiproxy_client import ToxiproxyClient, ToxiproxyError
from gameday.proxy.testing import ApiClient, free_port, served
from gameday.stack import reaper
from gameday.stack.reaper import reap_stale_runs
from gameday.stack.rundir import ProxyRecord, RunDir

RUN_ID = "20240101T000000Z-abc123"
HOP = "failover->oms-primary"


@pytest.fixture
async def api() -> AsyncIterator[ApiClient]:
    async with served(seed=1) as (_, client):
        yield client


@asynccontextmanager
async def _silent_server() -> AsyncIterator[str]:
    """The URL of a server that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []
    server = await asyncio.start_server(lambda reader, writer: held.append(writer), "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for writer in held:
            writer.close()


def _hops(*names: str) -> list[dict[str, Any]]:
    return [{"name": name, "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1", "enabled": True}
            for name in names]


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _as_dead_run(record: ProxyRecord) -> None:
    """Make ``record`` read as written by a harness that has since died."""
    content = json.loads(record.path.read_text())
    content["harness"] = {"pid": _dead_pid(), "start_ticks": 1}
    record.path.write_text(json.dumps(content))


class _Record:
    """Keeps what the client recorded, in order."""

    def __init__(self) -> None:
        self.added: list[tuple[str, list[str]]] = []
        self.discarded: list[str] = []

    def add(self, base_url: str, names: Sequence[str], token: str | None = None) -> None:
        assert token is None  # these clients send none: only a server that needs a token gets one
        self.added.append((base_url, list(names)))

    def discard(self, base_url: str, names: Sequence[str]) -> None:
        self.discarded += names


async def test_an_owned_hop_is_a_proxy_named_for_its_owner() -> None:
    async with aiohttp.ClientSession() as session:
        client = ToxiproxyClient("http://127.0.0.1:1/", session, owner=RUN_ID)
        other = ToxiproxyClient("http://127.0.0.1:1", session, owner="20240101T000000Z-def456")
        plain = ToxiproxyClient("http://127.0.0.1:1", session)
    assert client.proxy_name(HOP) == f"gd-{RUN_ID}.{HOP}"
    assert client.hop_of(f"gd-{RUN_ID}.{HOP}") == HOP
    assert client.hop_of(other.proxy_name(HOP)) is None
    assert client.hop_of(HOP) is None
    assert plain.proxy_name(HOP) == HOP
    assert plain.hop_of(other.proxy_name(HOP)) == other.proxy_name(HOP)


async def test_one_owner_never_reads_a_name_of_an_owner_it_prefixes() -> None:
    async with aiohttp.ClientSession() as session:
        short = ToxiproxyClient("http://127.0.0.1:1", session, owner="r1")
        longer = ToxiproxyClient("http://127.0.0.1:1", session, owner="r1-x")
    assert short.proxy_name("x-h") != longer.proxy_name("h")
    assert short.hop_of(longer.proxy_name("h")) is None
    assert longer.hop_of(short.proxy_name("x-h")) is None


@pytest.mark.parametrize("owner", ["", "a.b", "a/b", "a b", "a?b", "é"])
async def test_an_owner_that_could_not_delimit_its_names_is_refused(owner: str) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ValueError, match="owner"):
            ToxiproxyClient("http://127.0.0.1:1", session, owner=owner)


async def test_a_record_without_an_owner_is_refused() -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ValueError, match="need an owner"):
            ToxiproxyClient("http://127.0.0.1:1", session, record=_Record())


async def test_every_call_works_on_the_owned_proxy_and_answers_in_hops(api: ApiClient) -> None:
    client = ToxiproxyClient(api.url, api.session, owner=RUN_ID)
    populated = await client.populate(_hops(HOP))
    assert [proxy["name"] for proxy in populated] == [HOP]
    assert list(await api.call("GET", "/proxies")) == [client.proxy_name(HOP)]
    created = await client.create_proxy("witness->nats", "127.0.0.1:2")
    assert created["name"] == "witness->nats"
    assert (await client.update_proxy(HOP, upstream="127.0.0.1:3"))["upstream"] == "127.0.0.1:3"
    assert (await client.set_enabled(HOP, False))["name"] == HOP
    await client.add_toxic(HOP, "latency", name="slow", attributes={"latency": 5})
    server_side = await api.call("GET", f"/proxies/gd-{RUN_ID}.failover-%3Eoms-primary")
    assert (server_side["enabled"], [t["name"] for t in server_side["toxics"]]) == (False, ["slow"])
    await client.remove_toxic(HOP, "slow")
    await client.delete_proxy("witness->nats")
    assert set(await client.proxies()) == {HOP}
    assert client.created == [HOP]


async def test_without_an_owner_names_and_reset_are_as_before(api: ApiClient) -> None:
    client = ToxiproxyClient(api.url, api.session)
    await client.populate(_hops(HOP))
    await api.create_proxy("someone-elses", 1)
    await api.add_toxic("someone-elses", "latency", attributes={"latency": 5})
    assert set(await client.proxies()) == {HOP, "someone-elses"}
    await client.reset()
    assert (await api.call("GET", "/proxies/someone-elses"))["toxics"] == []
    assert await client.delete_own() == []
    assert set(await api.call("GET", "/proxies")) == {HOP, "someone-elses"}


async def test_proxies_are_recorded_before_they_are_created(api: ApiClient) -> None:
    record = _Record()
    client = ToxiproxyClient(api.url, api.session, owner=RUN_ID, record=record)
    with pytest.raises(ToxiproxyError):
        await client.populate([{"name": HOP, "listen": "127.0.0.1:0", "upstream": ""}])
    assert record.added == [(api.url, [client.proxy_name(HOP)])]
    assert await api.call("GET", "/proxies") == {}
    assert await client.delete_own() == [HOP]  # claimed, so deleted (already gone counts)
    assert record.discarded == [client.proxy_name(HOP)]


async def test_delete_own_keeps_what_a_silent_server_did_not_delete_on_record(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toxiproxy_client, "REQUEST_TIMEOUT_S", 0.2)
    record = RunDir(tmp_path, "s", run_id=RUN_ID).proxy_record
    async with _silent_server() as url, aiohttp.ClientSession() as session:
        client = ToxiproxyClient(url, session, owner=RUN_ID, record=record)
        with pytest.raises(TimeoutError):
            await client.populate(_hops(HOP, "witness->nats"))
        started = asyncio.get_running_loop().time()
        assert await client.delete_own() == []
        assert asyncio.get_running_loop().time() - started < 2
    assert client.created == [HOP, "witness->nats"]
    assert record.owned() == {url: [client.proxy_name(h) for h in (HOP, "witness->nats")]}


async def test_delete_own_forgets_the_proxies_of_a_server_that_is_gone(tmp_path: Path) -> None:
    record = RunDir(tmp_path, "s", run_id=RUN_ID).proxy_record
    async with aiohttp.ClientSession() as session:
        client = ToxiproxyClient(f"http://127.0.0.1:{free_port()}", session, owner=RUN_ID, record=record)
        with pytest.raises(aiohttp.ClientConnectionError):
            await client.populate(_hops(HOP, "witness->nats"))
        assert record.path.exists()
        assert await client.delete_own() == [HOP, "witness->nats"]
    assert client.created == []
    assert not record.path.exists()


def test_the_record_merges_discards_and_vanishes_when_empty(tmp_path: Path) -> None:
    run = RunDir(tmp_path, "s", run_id=RUN_ID)
    record = run.proxy_record
    record.add("http://a", ["p1", "p2"])
    run.proxy_record.add("http://a", ["p2", "p3"])
    record.add("http://b", ["q"])
    assert record.owned() == {"http://a": ["p1", "p2", "p3"], "http://b": ["q"]}
    content = json.loads(record.path.read_text())
    assert content["harness"]["pid"] == os.getpid()
    assert content["run_dir"] == str(run.path)
    record.discard("http://a", ["p1", "p2", "p3"])
    assert record.owned() == {"http://b": ["q"]}
    record.discard("http://b", ["q"])
    assert not record.path.exists()


async def test_reaper_deletes_a_dead_runs_proxies_with_its_registry(api: ApiClient, tmp_path: Path) -> None:
    dead = RunDir(tmp_path, "s", run_id="dead")
    client = ToxiproxyClient(api.url, api.session, owner="dead", record=dead.proxy_record)
    await client.populate(_hops(HOP))
    _as_dead_run(dead.proxy_record)
    dead.registry_path.write_text(json.dumps({"run_dir": str(dead.path),
                                              "harness": {"pid": _dead_pid(), "start_ticks": 1}}))
    reaped = await asyncio.to_thread(reap_stale_runs, tmp_path)
    assert [(r.run_dir, r.proxies) for r in reaped] == [(str(dead.path), (client.proxy_name(HOP),))]
    assert await api.call("GET", "/proxies") == {}
    assert not dead.proxy_record.path.exists()


async def test_reaper_leaves_a_live_runs_proxies_alone(api: ApiClient, tmp_path: Path) -> None:
    live = RunDir(tmp_path, "s", run_id="live")
    client = ToxiproxyClient(api.url, api.session, owner="live", record=live.proxy_record)
    await client.populate(_hops(HOP))
    assert await asyncio.to_thread(reap_stale_runs, tmp_path) == []
    assert set(await client.proxies()) == {HOP}
    assert live.proxy_record.owned() == {api.url: [client.proxy_name(HOP)]}


def test_reaper_forgets_proxies_of_a_server_that_is_gone(tmp_path: Path) -> None:
    record = RunDir(tmp_path, "s", run_id="dead").proxy_record
    record.add(f"http://127.0.0.1:{free_port()}", ["gd-dead.a", "gd-dead.b"])
    _as_dead_run(record)
    (reaped,) = reap_stale_runs(tmp_path)
    assert reaped.proxies == ()
    assert not record.path.exists()


async def test_reaper_gives_up_on_a_silent_server_quickly_and_keeps_the_record(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reaper, "REAP_TIMEOUT_S", 0.2)
    record = RunDir(tmp_path, "s", run_id="dead").proxy_record
    async with _silent_server() as url:
        record.add(url, ["gd-dead.a", "gd-dead.b", "gd-dead.c"])
        _as_dead_run(record)
        started = asyncio.get_running_loop().time()
        assert await asyncio.to_thread(reap_stale_runs, tmp_path) == []
        assert asyncio.get_running_loop().time() - started < 2
    assert record.owned() == {url: ["gd-dead.a", "gd-dead.b", "gd-dead.c"]}


def test_reaper_removes_a_record_that_proves_nothing(tmp_path: Path) -> None:
    record = RunDir(tmp_path, "s", run_id="junk").proxy_record
    record.path.parent.mkdir(parents=True)
    record.path.write_text('{"proxies": {"http://127.0.0.1:1": ["x"]}}')
    assert reap_stale_runs(tmp_path) == []
    assert not record.path.exists()


def test_named_proxies_are_the_users_used_as_given_and_never_deleted() -> None:
    client = ToxiproxyClient("http://127.0.0.1:1", None,  # type: ignore[arg-type]
                             names={"oms-primary->exchange": "staging_primary_fix"})
    assert client.proxy_name("oms-primary->exchange") == "staging_primary_fix"
    assert client.hop_of("staging_primary_fix") == "oms-primary->exchange"
    assert client.hop_of("someone_elses_proxy") is None
    assert client.created == []


def test_a_run_owns_its_proxies_or_names_the_users_never_both() -> None:
    with pytest.raises(ValueError, match="either"):
        ToxiproxyClient("http://127.0.0.1:1", None, owner="r1", names={"a->b": "ab"})  # type: ignore[arg-type]
