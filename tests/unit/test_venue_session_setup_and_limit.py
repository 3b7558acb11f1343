"""The venue's session setup time (seed 002: 2-5 s) and its published order rate limit with bans."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from mock_exchange.config import VenueConfig
from mock_exchange.fault_board import FaultBoard
from mock_exchange.faults import CountedRequest, OrderRateLimit, RateLimit
from mock_exchange.ledger import Ledger
from mock_exchange.session_setup import MAX_HELD_BYTES, HeldBytes, SessionSetup


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_start_of_day_sessions_set_up_at_once_and_later_ones_take_the_setup_time() -> None:
    orders: dict[str, object] = {}
    setup = SessionSetup(3.0, orders)
    assert setup.delay_s() == 0.0
    orders["O1"] = object()  # the venue took its first order: trading has begun
    assert setup.delay_s() == 3.0


def test_the_setup_must_end_before_the_logon_timeout(tmp_path: Path) -> None:
    assert VenueConfig(fix_port=0, admin_port=0, ledger_path=tmp_path / "l").session_setup_s == 3.0
    with pytest.raises(ValidationError, match=r"session_setup_s \(10\) must be below logon_timeout_s"):
        VenueConfig(fix_port=0, admin_port=0, ledger_path=tmp_path / "l", session_setup_s=10,
                    logon_timeout_s=10)


async def test_held_bytes_arrive_in_order_once_the_setup_time_passed() -> None:
    delivered: list[bytes] = []
    arrived = asyncio.Event()

    def deliver(data: bytes) -> None:
        delivered.append(data)
        arrived.set()

    loop = asyncio.get_running_loop()
    started = loop.time()
    held = HeldBytes(0.2, deliver, lambda: None)
    held.receive(b"8=FIX.4.4")
    held.receive(b"|35=A")
    assert held.holding
    assert delivered == []
    async with asyncio.timeout(5):
        await arrived.wait()
    assert delivered == [b"8=FIX.4.4|35=A"]
    assert loop.time() - started >= 0.2
    held.receive(b"|35=0")  # set up: delivered at once
    assert delivered[-1] == b"|35=0"


async def test_no_setup_delivers_at_once_and_too_much_held_data_overflows() -> None:
    delivered: list[bytes] = []
    HeldBytes(0.0, delivered.append, lambda: None).receive(b"x")
    assert delivered == [b"x"]
    overflowed: list[bool] = []
    held = HeldBytes(60.0, delivered.append, lambda: overflowed.append(True))
    held.receive(b"y" * MAX_HELD_BYTES)
    held.receive(b"z")
    assert overflowed == [True]
    assert not held.holding
    assert delivered == [b"x"]


async def test_a_connection_that_ends_during_setup_gets_nothing_delivered() -> None:
    delivered: list[bytes] = []
    held = HeldBytes(0.05, delivered.append, lambda: None)
    held.receive(b"logon")
    held.cancel()
    await asyncio.sleep(0.1)
    assert delivered == []


def test_the_published_limit_refuses_beyond_it_bans_and_tells_the_ban_listeners() -> None:
    clock = FakeClock()
    board = FaultBoard(clock=clock, published_limit=OrderRateLimit(max_orders=2, window_s=1.0, ban_s=5.0))
    bans: list[tuple[str, float, str]] = []
    board.subscribe_bans(lambda *ban: bans.append(ban))
    assert board.questions_orders
    assert not board.armed
    assert [board.admit("A"), board.admit("A"), board.admit("A")] == [None, None, "Rate limit exceeded"]
    assert bans == [("A", 5.0, "Rate limit exceeded")]
    clock.now += 1.5  # the window moved on, the ban did not
    assert board.admit("A", CountedRequest.NEW) == "Rate limit exceeded: banned for another 3.5 s"
    assert board.admit("A", CountedRequest.CANCEL) is None, "the published limit counts new orders only"
    assert len(bans) == 1, "refusals during a ban start no new ban"
    clock.now += 3.5
    assert board.admit("A") is None


def test_an_armed_rate_limit_fault_replaces_the_published_limit_for_its_session() -> None:
    board = FaultBoard(clock=FakeClock(), published_limit=OrderRateLimit(max_orders=1, window_s=60.0))
    board.arm(RateLimit(max_orders=3, window_s=60.0, session="A"))
    assert [board.admit("A") for _ in range(4)] == [None, None, None, "Rate limit exceeded"]
    assert [board.admit("B") for _ in range(2)] == [None, "Rate limit exceeded"], "B: the published limit"


def test_a_ban_is_a_ledger_line_a_restart_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    with Ledger.open(path) as ledger:
        ledger.record_ban("OMS-PRIMARY", 5.0, "Rate limit exceeded")
        [ban] = ledger.bans
        assert ban["until_ns"] - ban["t_ns"] == 5_000_000_000
    line = json.loads(path.read_text().splitlines()[-1])
    assert line["kind"] == "ban"
    assert line["sender_comp_id"] == "OMS-PRIMARY"
    with Ledger.open(path) as reopened:
        assert reopened.bans == [line]
