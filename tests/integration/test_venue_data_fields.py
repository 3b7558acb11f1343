"""Length-prefixed data fields over real sockets: RawData(96) and XmlData(213) are read by their
length fields (95, 212), so separators, a trailer or a whole frame inside them are data."""

from __future__ import annotations

from pathlib import Path

import pytest

from mock_exchange.config import VenueConfig
from mock_exchange.venue import Venue
from tests.integration.venue_helpers import (
    FieldValue,
    FixTestClient,
    field,
    raw_frame,
    utc_timestamp,
    venue_config,
)

pytestmark = pytest.mark.integration

# a separator, '=', a trailer and the start of another frame, all inside one value
DATA = b"<x>\x01a=b\x0110=123\x018=FIX.4.4\x019=12\x0135=D\x01</x>"


@pytest.fixture
def venue_settings(tmp_path: Path) -> VenueConfig:
    return venue_config(tmp_path)


def _header(msg_type: str, seq: int) -> list[tuple[int | str, FieldValue]]:
    return [(35, msg_type), (49, "OMS-A"), (56, "MOCKEX"), (34, seq), (52, utc_timestamp())]


def _xml(data: bytes = DATA, length: int | None = None) -> list[tuple[int | str, FieldValue]]:
    return [(212, len(data) if length is None else length), (213, data)]


async def test_a_logon_with_raw_data_holding_separators_is_accepted(venue: Venue) -> None:
    client = await FixTestClient.connect(venue.fix_port, "OMS-A")
    logon = [*_header("A", 1), (98, 0), (108, 30), (141, "Y"), (95, len(DATA)), (96, DATA)]
    client.send_raw(raw_frame(logon))
    answer = await client.expect_any()
    await client.close()
    assert field(answer, 35) == "A"


async def test_xml_data_holding_a_frame_is_read_whole(client: FixTestClient) -> None:
    client.send_raw(raw_frame([*_header("1", 2), *_xml(), (112, "with-xml")]))
    heartbeat = await client.expect_any()
    assert [field(heartbeat, tag) for tag in (35, 112)] == ["0", "with-xml"]


async def test_an_order_carrying_xml_data_is_acknowledged(client: FixTestClient) -> None:
    order: list[tuple[int | str, FieldValue]] = [
        (11, "oms-a-1-1"), (55, "BTC-USD"), (54, 1), (38, 1), (40, 2), (44, 1), (60, utc_timestamp())]
    client.send_raw(raw_frame([*_header("D", 2), *_xml(), *order]))
    report = await client.expect("8")
    assert [field(report, tag) for tag in (150, 11)] == ["0", "oms-a-1-1"]


@pytest.mark.parametrize("error", [-1, 1, 500])
async def test_a_data_length_that_misses_the_separator_is_a_garbled_frame(
    client: FixTestClient, error: int
) -> None:
    client.send_raw(raw_frame([*_header("1", 2), *_xml(length=len(DATA) + error), (112, "bad")]))
    client.send_raw(raw_frame([*_header("1", 2), (112, "next")]))
    heartbeat = await client.expect_any()
    assert [field(heartbeat, tag) for tag in (35, 112)] == ["0", "next"], (
        "dropped unanswered, 2 still expected"
    )
