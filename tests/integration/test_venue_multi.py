"""Several venues in one process: own ports, own ledgers; one order split across two of them."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mock_exchange.config import ExchangeConfig, SessionConfig, SymbolConfig, VenueConfig, WsAccountConfig
from mock_exchange.exchange import Exchange
from tests.integration.exchange_helpers import GAMEDAY, MOCK_EXCHANGE, exchange_process
from tests.integration.venue_helpers import FixTestClient, field, get_json
from tests.integration.ws_helpers import WsTestClient

pytestmark = pytest.mark.integration

PARENT_QTY = 20_000  # split 12,000 on alpha (FIX) and 8,000 on beta (WebSocket)
FAR_ABOVE = 1_000_000.0


def _venue(tmp_path: Path, name: str, seed: int, **overrides: Any) -> VenueConfig:
    values: dict[str, Any] = {
        "name": name,
        "comp_id": name.upper(),
        "fix_port": 0,
        "admin_port": 0,
        "sessions": (SessionConfig(sender_comp_id="OMS-A"),),
        "symbols": (SymbolConfig(symbol="BTC-USD", start_price=60_000.0),),
        "seed": seed,
        "fill_probability": 1.0,
        "tick_interval_s": 0.1,
        "ledger_path": tmp_path / f"{name}.jsonl",
    }
    return VenueConfig(**(values | overrides))


def _exchange_config(tmp_path: Path) -> Path:
    config = ExchangeConfig(
        venues=(
            _venue(tmp_path, "alpha", seed=1),
            _venue(
                tmp_path,
                "beta",
                seed=2,
                ws_port=0,
                ws_accounts=(WsAccountConfig(account="oms-a-ws", api_key="k"),),
            ),
        )
    )
    path = tmp_path / "exchange.json"
    path.write_text(config.model_dump_json())
    return path


async def test_one_order_split_across_two_venues_fills_partially_on_each(tmp_path: Path) -> None:
    command = [*MOCK_EXCHANGE, "--config", str(_exchange_config(tmp_path))]
    async with exchange_process(command, tmp_path / "exchange.log") as child:
        assert set(child.ports) == {"alpha_fix", "alpha_admin", "beta_fix", "beta_ws", "beta_admin"}
        alpha = await FixTestClient.connect(child.ports["alpha_fix"], "OMS-A", "ALPHA")
        await alpha.logon()
        alpha.new_order("oms-a-1-1", qty=12_000, price=FAR_ABOVE)
        async with WsTestClient.connect(child.ports["beta_ws"]) as beta:
            await beta.auth("oms-a-ws", "k")
            await beta.request(
                "place",
                client_order_id="oms-a-1-2",
                symbol="BTC-USD",
                side="buy",
                type="limit",
                qty=8_000,
                price=FAR_ABOVE,
                sub_id="oms-a",
            )
            await _first_fill_on_alpha_then_cancel(alpha)
            await beta.events_until(lambda event: event["exec_type"] == "trade")
            canceled = await beta.request("cancel", client_order_id="oms-a-1-2")
            assert canceled["order"]["status"] == "canceled"
        ledgers = {name: await _ledger(child.ports[f"{name}_admin"]) for name in ("alpha", "beta")}
        assert await child.terminate() == 0
        await alpha.close()

    filled = {}
    for name, cl_ord_id, qty in (("alpha", "oms-a-1-1", 12_000), ("beta", "oms-a-1-2", 8_000)):
        [order] = ledgers[name]["orders"]
        assert (order["cl_ord_id"], order["instance"], order["status"]) == (cl_ord_id, "oms-a", "canceled")
        assert 0 < order["cum_qty"] < qty, f"{name}: a partial fill, then the rest canceled"
        fills = ledgers[name]["fills"]
        assert {fill["order_id"] for fill in fills} == {order["order_id"]}
        assert {fill["instance"] for fill in fills} == {"oms-a"}
        assert sum(fill["qty"] for fill in fills) == order["cum_qty"]
        assert _fills_in_file(tmp_path / f"{name}.jsonl") == len(fills)
        filled[name] = order["cum_qty"]
    assert sum(filled.values()) < PARENT_QTY


async def _first_fill_on_alpha_then_cancel(alpha: FixTestClient) -> None:
    while field(await alpha.expect("8"), 150) != "F":
        pass
    alpha.cancel("oms-a-1-3", "oms-a-1-1", qty=12_000)
    while field(report := await alpha.expect("8"), 150) != "4":
        assert field(report, 150) == "F"


async def _ledger(admin_port: int) -> dict[str, Any]:
    status, snapshot = await get_json(admin_port, "/ledger")
    assert status == 200
    return dict(snapshot)


def _fills_in_file(path: Path) -> int:
    return sum(json.loads(line)["kind"] == "fill" for line in path.read_text().splitlines())


@pytest.mark.parametrize(
    ("shared", "message"),
    [("name", "own name"), ("ledger_path", "own ledger_path"), ("fix_port", "own port")],
)
def test_venues_that_share_a_name_ledger_or_port_are_a_clear_error(
    tmp_path: Path, shared: str, message: str
) -> None:
    alpha = _venue(tmp_path, "alpha", seed=1, fix_port=45_001).model_dump(mode="json")
    beta = _venue(tmp_path, "beta", seed=2).model_dump(mode="json") | {shared: alpha[shared]}
    path = tmp_path / "exchange.json"
    path.write_text(json.dumps({"venues": [alpha, beta]}))
    result = subprocess.run(
        [*GAMEDAY, "exchange", "--config", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert f"each venue needs its {message}" in result.stderr
    assert "Traceback" not in result.stderr


async def test_a_venue_that_cannot_start_stops_those_already_started(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        config = ExchangeConfig(
            venues=(
                _venue(tmp_path, "alpha", seed=1),
                _venue(tmp_path, "beta", seed=2, fix_port=busy.getsockname()[1]),
            )
        )
        exchange = Exchange(config)
        with pytest.raises(OSError, match="address already in use"):
            await exchange.__aenter__()
    alpha = exchange.venues["alpha"]
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", alpha.fix_port)
    assert "beta" not in exchange.venues
