"""The local stack with market data (issue 16): the venue publishes feeds A and B, each OMS instance
reaches each feed through its own fault-proxy hop (``oms-primary->feed-a`` ...), and a toxic on one
hop moves that instance, and only that one, to the other feed.

A scenario asks for market data with ``stack.market_data`` (the reference target's section,
:class:`~trading_stack.market_data.section.MarketDataSection`), which the harness carries to the
stack as ``DeploymentSpec.market_data``; this test hands it over the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gameday.scenario.deploy_spec import DeploymentSpec
from gameday.scenario.presets import StackPreset, topology
from gameday.stack.rundir import RunDir
from gameday.stack.settings import StackSettings
from reference_target.local import LocalStack
from reference_target.target import TARGET
from tests.integration.test_oms_support import wait_until

pytestmark = pytest.mark.integration


async def _deep(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(f"{url}/health/deep") as response:
        return dict((await response.json())["market_data"])


async def test_each_instance_trades_on_feeds_through_its_own_hops(tmp_path: Path) -> None:
    section = TARGET.section("market_data", {"max_feed_age_ms": 500, "switch_back_after_ms": 1000})
    settings = StackSettings(run_dir=RunDir(tmp_path, "md-wiring"), seed=3,
                             deployment=DeploymentSpec(market_data=section),
                             cache_dir=tmp_path.parent / "pg-cache", start_timeout_s=40)
    async with LocalStack(settings) as stack, aiohttp.ClientSession() as http:
        described = stack.describe()
        feed_hops = {hop.name for hop in topology(StackPreset.ACTIVE_PASSIVE).feed_hops}
        assert feed_hops <= set(described["proxies"])
        assert described["market_data"]["feeds"] == ["A", "B"]
        primary, dr = stack.endpoints.oms["oms-primary"], stack.endpoints.oms["oms-dr"]
        for url in (primary, dr):
            await wait_until(lambda url=url: _selected(http, url, "A"), 15, f"feed A selected at {url}")

        assert stack.toxiproxy is not None  # the primary's hop to A holds every byte from now on
        await stack.toxiproxy.add_toxic("oms-primary->feed-a", "timeout", name="hold",
                                        attributes={"timeout": 0})
        await wait_until(lambda: _selected(http, primary, "B"), 5, "the primary on B")
        assert (await _deep(http, dr))["selected"] == "A"  # the DR's own hop to A is fine

        await stack.toxiproxy.remove_toxic("oms-primary->feed-a", "hold")
        await wait_until(lambda: _selected(http, primary, "A"), 10, "the primary back on A")


async def _selected(http: aiohttp.ClientSession, url: str, feed: str) -> bool:
    try:
        return (await _deep(http, url))["selected"] == feed
    except (aiohttp.ClientError, KeyError):
        return False


def test_without_the_section_the_stack_has_no_feed_and_no_feed_hop(tmp_path: Path) -> None:
    stack = LocalStack(StackSettings(run_dir=RunDir(tmp_path, "plain"), seed=1))
    assert stack.market_data is None
    assert stack._venue_config().feeds == ()
    assert not any(hop.destination.startswith("feed-") for hop in stack._hops)
