"""``gameday contract check`` of a target file whose venue the harness runs (``venue.run``): the check
starts our venue on the ports the OMS is configured with, waits for the OMS to reconnect to it, runs
the order round trip against it (graded on its ledger), and stops it when the check ends: on success,
and on SIGTERM half way.

The OMS is the cold-standby example (examples/cold_standby_oms), started as
tests/integration/test_target_venue_run.py starts it, pointed at a venue port nothing serves yet.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from gameday.cli import EXIT_INTERRUPTED
from gameday.contract.checks import STACK, Outcome
from gameday.contract.orders import ROUND_TRIP
from gameday.contract.run import CheckOptions, check_contract
from gameday.target_file import load_target_file
from tests.integration.processes import alive
from tests.integration.test_example_oms import free_port
from tests.integration.test_target_venue_run import CLI, cold_standby_oms
from tests.integration.test_target_venue_run import _port_free as port_free
from tests.integration.test_target_venue_run import _target as venue_run_target
from tests.integration.test_target_venue_run import _venues_running as venues_running

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CHECK_TIMEOUT_S = 120.0


def _check_venue_configs(temp_root: Path) -> list[Path]:
    """The configurations of the venues contract checks started under ``temp_root`` (their TMPDIR)."""
    return list(temp_root.glob("gameday-contract-*/contract-check/*/stack/venue.json"))


@pytest.mark.timeout(180)
async def test_the_check_starts_the_venue_the_file_asks_for_trades_through_it_and_stops_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(temp_root))
    ws_port = free_port()
    async with cold_standby_oms(tmp_path, ws_port) as oms_url:
        target = load_target_file(venue_run_target(tmp_path, oms_url, ws_port))
        assert port_free(ws_port), "nothing serves the OMS's venue port before the check"

        report = await check_contract(target, CheckOptions(trade=True))

        assert port_free(ws_port), "the check's venue is gone once it ends"
        assert list(temp_root.iterdir()) == []  # its configuration (with its token), log and ledger too

    stack = {result.check_id: (result.outcome, result.detail) for result in report.of(STACK)}
    assert stack["stack.active"][0] is Outcome.PASS, stack  # the OMS reconnected to the fresh venue
    assert stack["venue.ledger"][0] is Outcome.PASS, stack
    assert report.venue.startswith("http://127.0.0.1:")
    primary = {result.check_id: (result.outcome, result.detail) for result in report.of("oms-primary")}
    for check in (*ROUND_TRIP, "positions.round_trip"):  # an order placed, seen on the venue's ledger
        assert primary[check][0] is Outcome.PASS, (check, primary[check])


@pytest.mark.timeout(180)
async def test_a_check_stopped_by_sigterm_stops_its_venue_and_removes_its_files(tmp_path: Path) -> None:
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    ws_port = free_port()
    # no OMS answers: the check waits for one to be active with its venue running, and TERM lands there
    target = venue_run_target(tmp_path, f"http://127.0.0.1:{free_port()}", ws_port)
    check = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLI, "contract", "check", "--target", str(target), cwd=ROOT,
        env={**os.environ, "TMPDIR": str(temp_root)}, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            while not (configs := _check_venue_configs(temp_root)) or not venues_running(configs[0]):
                assert check.returncode is None, "the check ended before its venue ran"
                await asyncio.sleep(0.05)
        [venue_pid] = venues_running(configs[0])
        check.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(check.communicate(), 30)
    finally:
        if check.returncode is None:
            check.kill()
            await check.wait()

    assert check.returncode == EXIT_INTERRUPTED, output
    assert b"terminated" in output, output
    assert b"Traceback" not in output, output
    assert not alive(venue_pid)
    assert port_free(ws_port)
    assert list(temp_root.iterdir()) == []
