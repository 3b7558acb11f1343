"""Session-level exchange faults: reconnect cooldowns and delayed / dropped / duplicated reports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mock_exchange.config import SessionConfig, VenueConfig
from mock_exchange.venue import Venue
from tests.integration.venue_helpers import (
    Connect,
    FixTestClient,
    answers_in_order,
    arm_fault,
    field,
    heal_fault,
    venue_config,
    wait_until,
)

pytestmark = pytest.mark.integration

COOLDOWN_TEXT = re.compile(r"^reconnect cooldown, (\d+\.\d) s remaining$")


@pytest.fixture
def venue_settings(tmp_path: Path) -> VenueConfig:
    sessions = (
        SessionConfig(sender_comp_id="OMS-A"),
        SessionConfig(sender_comp_id="OMS-B"),
        SessionConfig(sender_comp_id="OTHER-FIRM", firm="other"),
    )
    return venue_config(tmp_path, sessions=sessions)


async def _log_out(venue: Venue, client: FixTestClient) -> None:
    client.send("5")
    await client.expect("5")
    await client.expect_closed()
    await wait_until(lambda: not venue.ledger.sessions[client.sender_comp_id].connected)


async def _refused_for(client: FixTestClient) -> float:
    """Seconds of cooldown the Logout refusing this client's logon says remain."""
    client.send("A", [(98, 0), (108, 30), (141, "Y")])
    [logout] = await client.expect_closed()
    assert field(logout, 35) == "5"
    match = COOLDOWN_TEXT.match(field(logout, 58) or "")
    assert match is not None, field(logout, 58)
    return float(match.group(1))


async def test_clean_logout_starts_a_firm_wide_cooldown(venue: Venue, connect: Connect) -> None:
    await arm_fault(venue.admin_port, "reconnect_cooldown", clean_s=30, unclean_s=90)
    first = await connect("OMS-A")
    await first.logon()
    await _log_out(venue, first)
    assert 25 < await _refused_for(await connect("OMS-A")) <= 30
    assert 25 < await _refused_for(await connect("OMS-B")) <= 30
    other_firm = await connect("OTHER-FIRM")
    await other_firm.logon()
    refused = [line for line in venue.config.ledger_path.read_text().splitlines() if "logon_refused" in line]
    assert len(refused) == 2
    await heal_fault(venue.admin_port, "reconnect_cooldown")
    await (await connect("OMS-A")).logon()


async def test_unclean_disconnect_gets_the_longer_cooldown(venue: Venue, connect: Connect) -> None:
    await arm_fault(venue.admin_port, "reconnect_cooldown", clean_s=5, unclean_s=60)
    lost = await connect("OMS-A")
    await lost.logon()
    await lost.close()
    await wait_until(lambda: not venue.ledger.sessions["OMS-A"].connected)
    assert 55 < await _refused_for(await connect("OMS-A")) <= 60


async def test_session_scope_refuses_only_the_same_session(venue: Venue, connect: Connect) -> None:
    await arm_fault(venue.admin_port, "reconnect_cooldown", clean_s=30, scope="session")
    first = await connect("OMS-A")
    await first.logon()
    await _log_out(venue, first)
    await (await connect("OMS-B")).logon()
    assert 25 < await _refused_for(await connect("OMS-A")) <= 30


async def test_disconnects_before_arming_do_not_count(venue: Venue, connect: Connect) -> None:
    first = await connect("OMS-A")
    await first.logon()
    await _log_out(venue, first)
    await arm_fault(venue.admin_port, "reconnect_cooldown", clean_s=30, unclean_s=30)
    await (await connect("OMS-A")).logon()


async def test_dropped_reports_never_arrive(venue: Venue, connect: Connect) -> None:
    client = await connect("OMS-A")
    await client.logon()
    await arm_fault(venue.admin_port, "execution_reports", mode="drop", probability=1.0)
    client.new_order("oms-a-1-1", price=1.0)
    assert await answers_in_order(client, "after-order") == []
    order = venue.ledger.order_by_cl_ord_id("oms-a-1-1")
    assert order is not None
    assert order.status.value == "new"


async def test_duplicated_report_has_the_same_exec_id_and_a_new_seqnum(
    venue: Venue, connect: Connect
) -> None:
    client = await connect("OMS-A")
    await client.logon()
    await arm_fault(venue.admin_port, "execution_reports", mode="duplicate")
    client.new_order("oms-a-1-1", price=1.0)
    first, second = await client.expect("8"), await client.expect("8")
    assert field(first, 17) == field(second, 17)
    assert int(field(second, 34) or 0) == int(field(first, 34) or 0) + 1
    assert field(second, 43) is None


async def test_delayed_report_arrives_after_later_answers(venue: Venue, connect: Connect) -> None:
    client = await connect("OMS-A")
    await client.logon()
    await arm_fault(venue.admin_port, "execution_reports", mode="delay", delay_s=0.5)
    client.new_order("oms-a-1-1", price=1.0)
    assert await answers_in_order(client, "overtakes") == []
    late = await client.expect("8")
    assert (field(late, 11), field(late, 150)) == ("oms-a-1-1", "0")


async def test_report_faults_are_scoped_to_a_session(venue: Venue, connect: Connect) -> None:
    client = await connect("OMS-A")
    await client.logon()
    await arm_fault(venue.admin_port, "execution_reports", mode="drop", session="OMS-B")
    client.new_order("oms-a-1-1", price=1.0)
    assert field(await client.expect("8"), 150) == "0"
