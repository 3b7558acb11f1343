"""``gameday exchange --reset-on-logon``: every logon starts both sequence numbers at 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.exchange_helpers import GAMEDAY, cli_flags, exchange_process
from tests.integration.venue_helpers import FixTestClient, field

pytestmark = pytest.mark.integration


async def test_reset_on_logon_restarts_both_sequence_numbers_at_1(tmp_path: Path) -> None:
    command = [*GAMEDAY, *cli_flags(tmp_path, "--reset-on-logon")]
    async with exchange_process(command, tmp_path / "exchange.log") as child:
        first = await FixTestClient.connect(child.ports["fix"], "CLIENT", "ACCEPTOR")
        await first.logon()
        first.new_order("cli-1-1", symbol="ABC", qty=1, price=49.0)
        await first.expect("8")
        first.send("5", [(58, "bye")])
        await first.expect("5")
        await first.close()
        second = await FixTestClient.connect(child.ports["fix"], "CLIENT", "ACCEPTOR")
        logon = await second.logon(reset=False)
        assert (field(logon, 34), second.next_seq) == ("1", 2)
        second.new_order("cli-2-1", symbol="ABC", qty=1, price=49.0)
        ack = await second.expect("8")
        assert (field(ack, 34), field(ack, 11)) == ("2", "cli-2-1")
        await second.close()
        assert await child.terminate() == 0
