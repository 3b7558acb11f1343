"""Ledger persistence across venue restarts, in-process and as a real child process."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from mock_exchange.config import VenueConfig
from mock_exchange.venue import Venue
from tests.integration.venue_helpers import FixTestClient, field, get_json, venue_config

pytestmark = pytest.mark.integration


def _durable(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {"orders": snapshot["orders"], "fills": snapshot["fills"]}


async def test_restart_on_the_same_ledger_rebuilds_state(tmp_path: Path) -> None:
    config = venue_config(tmp_path, fill_probability=1.0)
    async with Venue(config) as first:
        client = await FixTestClient.connect(first.fix_port, "OMS-A")
        await client.logon()
        client.new_order("oms-a-1-1", qty=2, price=1_000_000.0)
        client.new_order("oms-a-1-2", qty=3, price=1.0)
        client.new_order("oms-a-1-3", qty=4, price=1.0)
        client.cancel("oms-a-1-4", "oms-a-1-3", qty=4)
        seen: set[str] = set()
        while seen != {"filled", "canceled"}:
            report = await client.expect("8")
            if (field(report, 11), field(report, 39)) == ("oms-a-1-1", "2"):
                seen.add("filled")
            if field(report, 11) == "oms-a-1-4":
                seen.add("canceled")
        _, before = await get_json(first.admin_port, "/ledger")
        await client.close()
    async with Venue(config) as second:
        _, after = await get_json(second.admin_port, "/ledger")
        assert _durable(after) == _durable(before)
        [session] = [s for s in after["sessions"] if s["sender_comp_id"] == "OMS-A"]
        assert (session["logons"], session["connected"]) == (1, False)
        client = await FixTestClient.connect(second.fix_port, "OMS-A")
        await client.logon()
        client.cancel("oms-a-2-1", "oms-a-1-2", qty=3)
        canceled = await client.expect("8")
        assert [field(canceled, 150), field(canceled, 41)] == ["4", "oms-a-1-2"]
        client.new_order("oms-a-2-2", qty=1, price=1.0)
        ack = await client.expect("8")
        assert field(ack, 37) not in {order["order_id"] for order in before["orders"]}
        await client.close()
    async with Venue(config) as third:
        _, final = await get_json(third.admin_port, "/ledger")
        [session] = [s for s in final["sessions"] if s["sender_comp_id"] == "OMS-A"]
        assert session["logons"] == 2
        assert len(final["orders"]) == 4


@asynccontextmanager
async def _venue_process(
    config_path: Path, log_path: Path
) -> AsyncIterator[tuple[asyncio.subprocess.Process, int, int]]:
    with log_path.open("ab") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "mock_exchange",
            "--config",
            str(config_path),
            stdout=asyncio.subprocess.PIPE,
            stderr=log_file,
        )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            line = (await process.stdout.readline()).decode()
        assert line.startswith("READY "), f"no READY line, got {line!r}: {log_path.read_text()}"
        ports = dict(part.split("=") for part in line.split()[1:])
        yield process, int(ports["fix"]), int(ports["admin"])
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_child_process_serves_survives_a_crash_and_exits_cleanly(tmp_path: Path) -> None:
    config = venue_config(tmp_path, fill_probability=0.0)
    config_path = tmp_path / "venue.json"
    config_path.write_text(config.model_dump_json())
    assert VenueConfig.model_validate_json(config_path.read_text()) == config
    log_path = tmp_path / "venue.log"

    async with _venue_process(config_path, log_path) as (process, fix_port, admin_port):
        assert await get_json(admin_port, "/health") == (200, {"status": "ok"})
        client = await FixTestClient.connect(fix_port, "OMS-B")
        await client.logon()
        client.new_order("oms-b-1-1", qty=5, price=1.0, sub_id="oms-b")
        ack = await client.expect("8")
        assert field(ack, 150) == "0"
        process.kill()
        await process.wait()
        await client.close()
    with config.ledger_path.open("a") as ledger_file:
        ledger_file.write('{"kind":"fill","t_ns":1,"order_id":"O1","ex')  # torn last write

    async with _venue_process(config_path, log_path) as (process, _, admin_port):
        _, orders = await get_json(admin_port, "/ledger/orders")
        [order] = orders
        assert (order["cl_ord_id"], order["status"], order["cum_qty"]) == ("oms-b-1-1", "canceled", 0)
        assert "venue restarted" in order["events"][-1]["text"]
        _, snapshot = await get_json(admin_port, "/ledger")
        [session] = [s for s in snapshot["sessions"] if s["sender_comp_id"] == "OMS-B"]
        assert (session["logons"], session["connected"]) == (1, False)
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            assert await process.wait() == 0
    lines = [json.loads(line) for line in config.ledger_path.read_text().splitlines()]
    assert [line["kind"] for line in lines] == ["session", "order", "session", "cancel"]
    assert "venue MOCKEX stopped" in log_path.read_text()
