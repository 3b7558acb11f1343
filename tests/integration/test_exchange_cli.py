"""``gameday exchange``: one venue from flags, served until SIGTERM; bad flags are a clear exit 2."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.exchange_helpers import GAMEDAY, cli_flags, exchange_process
from tests.integration.venue_helpers import FixTestClient, field, get_json
from tests.integration.ws_helpers import WsTestClient

pytestmark = pytest.mark.integration


async def test_serves_fix_with_the_given_comp_ids_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    async with exchange_process([*GAMEDAY, *cli_flags(tmp_path)], tmp_path / "exchange.log") as child:
        assert set(child.ports) == {"fix", "admin"}
        client = await FixTestClient.connect(child.ports["fix"], "CLIENT", "ACCEPTOR")
        logon = await client.logon()
        assert [field(logon, 49), field(logon, 56)] == ["ACCEPTOR", "CLIENT"]
        client.new_order("cli-1-1", symbol="ABC", qty=3, price=49.5)
        ack = await client.expect("8")
        assert [field(ack, tag) for tag in (150, 11, 55, 38, 44)] == ["0", "cli-1-1", "ABC", "3", "49.5"]
        _, orders = await get_json(child.ports["admin"], "/ledger/orders")
        assert [(order["cl_ord_id"], order["sender_comp_id"]) for order in orders] == [("cli-1-1", "CLIENT")]
        assert await child.terminate() == 0
        await client.close()
    kinds = [json.loads(line)["kind"] for line in (tmp_path / "desk.jsonl").read_text().splitlines()]
    assert "order" in kinds
    assert "Traceback" not in (tmp_path / "exchange.log").read_text()


async def test_only_the_given_client_comp_id_may_log_on(tmp_path: Path) -> None:
    async with exchange_process([*GAMEDAY, *cli_flags(tmp_path)], tmp_path / "exchange.log") as child:
        stranger = await FixTestClient.connect(child.ports["fix"], "STRANGER", "ACCEPTOR")
        stranger.send("A", [(98, 0), (108, 30), (141, "Y")])
        assert await stranger.expect_closed() == [], "an unknown CompID is disconnected without an answer"
        await stranger.close()
        _, sessions = await get_json(child.ports["admin"], "/ledger")
        assert [session["sender_comp_id"] for session in sessions["sessions"]] == ["CLIENT"]
        assert await child.terminate() == 0


async def test_serves_the_websocket_api_with_the_given_accounts(tmp_path: Path) -> None:
    command = [*GAMEDAY, *cli_flags(tmp_path, "--ws-port", "0", "--ws-account", "desk:secret")]
    async with exchange_process(command, tmp_path / "exchange.log") as child:
        assert set(child.ports) == {"fix", "ws", "admin"}
        async with WsTestClient.connect(child.ports["ws"]) as client:
            assert (await client.auth("desk", "wrong"))["code"] == "auth_failed"
            assert (await client.auth("desk", "secret"))["account"] == "desk"
            placed = await client.request(
                "place", client_order_id="d-1", symbol="ABC", side="sell", type="limit", qty=2, price=51
            )
            assert (placed["order"]["status"], placed["order"]["account"]) == ("new", "desk")
        _, orders = await get_json(child.ports["admin"], "/ledger/orders")
        assert [(order["cl_ord_id"], order["sender_comp_id"]) for order in orders] == [("d-1", "desk")]
        assert await child.terminate() == 0


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


BAD_FLAGS = {
    "port out of range": (["--fix-port", "70000"], "not a port number"),
    "symbol price not a number": (["--symbol", "XYZ:cheap"], "'cheap' is not a price"),
    "symbol price not positive": (["--symbol", "XYZ:-1"], "start price must be positive"),
    "venue name with a space": (["--venue", "two words"], "letters, digits and _ only"),
    "ws port without accounts": (["--ws-port", "0"], "--ws-port needs at least one --ws-account"),
    "ws account without key": (["--ws-port", "0", "--ws-account", "acct"], "expected ACCOUNT:API_KEY"),
    "config combined with flags": (["--config", "venue.json"], "--config cannot be combined"),
    "unknown flag": (["--fix-prot", "1"], "unrecognized arguments"),
}


@pytest.mark.parametrize("case", BAD_FLAGS, ids=list(BAD_FLAGS))
def test_bad_flags_exit_2_with_a_clear_message(tmp_path: Path, case: str) -> None:
    extra, message = BAD_FLAGS[case]
    result = _run_exchange(*cli_flags(tmp_path, *extra))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "desk.jsonl").exists()


def test_no_client_comp_id_is_a_clear_error() -> None:
    result = _run_exchange("exchange", "--fix-port", "0")
    assert result.returncode == 2
    assert "give --client-comp-id" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_port_in_use_is_a_clear_error(tmp_path: Path, busy_port: int) -> None:
    result = _run_exchange(*cli_flags(tmp_path), "--admin-port", str(busy_port))
    assert result.returncode == 2
    assert "cannot start" in result.stderr
    assert "address already in use" in result.stderr.lower()
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("{not json", "is not JSON"),
        ('{"fix_port": 0, "admin_port": 0}', "ledger_path: Field required"),
        ('{"venues": []}', "venues: Tuple should have at least 1 item"),
    ],
    ids=["missing", "not json", "missing field", "no venues"],
)
def test_a_bad_config_file_is_a_clear_error(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "venue.json"
    if content is not None:
        path.write_text(content)
    result = _run_exchange("exchange", "--config", str(path))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def _run_exchange(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GAMEDAY, *args], capture_output=True, text=True, timeout=60)
