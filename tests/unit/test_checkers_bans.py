"""venue.bans, venue.banned_s and venue.ban_refusals: a ban's cost, read off the venue's ledger."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from gameday.checkers.bans import BanCount, BannedSeconds, BanRefusals, merged_spans
from gameday.checkers.base import observe
from gameday.history import OpKind, OpType
from tests.unit.history_builder import HistoryBuilder, ledger_order, ns


def _ban(session: str, at_s: float, ban_s: float) -> dict[str, Any]:
    return {"kind": "ban", "t_ns": ns(at_s), "sender_comp_id": session, "ban_s": ban_s,
            "until_ns": ns(at_s + ban_s), "text": "Rate limit exceeded"}


def _history(bans: list[dict[str, Any]] | None, orders: Sequence[dict[str, Any]] = (), *,
             read_at: float = 40.1) -> HistoryBuilder:
    value: dict[str, Any] = {"orders": list(orders), "fills": [], "sessions": [], "now_ns": ns(read_at)}
    if bans is not None:
        value["bans"] = bans
    return HistoryBuilder().run_start().add(OpKind.LEDGER, OpType.OK, "venue", "snapshot", value, at=read_at)


def test_no_bans_reads_zero_for_all_three() -> None:
    ops = _history([]).ops
    checkers = (BanCount(), BannedSeconds(), BanRefusals())
    assert [observe(checker, ops).value for checker in checkers] == [0, 0, 0]


def test_a_ledger_that_reports_no_bans_is_unknown_not_zero() -> None:
    ops = _history(None).ops
    for checker in (BanCount(), BannedSeconds(), BanRefusals()):
        observation = observe(checker, ops)
        assert observation.value is None
        assert "reports no bans" in observation.note


def test_overlapping_bans_of_two_sessions_count_their_time_once() -> None:
    bans = [_ban("OMS-PRIMARY", 5.0, 5.0), _ban("OMS-DR", 8.0, 5.0), _ban("OMS-PRIMARY", 20.0, 2.0)]
    ops = _history(bans).ops
    assert observe(BanCount(), ops).value == 3
    assert observe(BannedSeconds(), ops).value == pytest.approx(8.0 + 2.0)


def test_a_ban_still_running_when_the_ledger_was_read_counts_up_to_then() -> None:
    ops = _history([_ban("OMS-PRIMARY", 38.0, 60.0)], read_at=40.0).ops
    assert observe(BannedSeconds(), ops).value == pytest.approx(2.0)


def test_only_rejected_orders_of_the_banned_session_inside_the_ban_are_refusals() -> None:
    orders = [
        ledger_order("a", "oms-primary", 5.5, status="rejected"),  # inside the ban: counted
        ledger_order("b", "oms-primary", 6.0, status="rejected"),  # inside: counted
        ledger_order("c", "oms-primary", 11.0, status="rejected"),  # after it
        ledger_order("d", "oms-dr", 6.0, status="rejected"),  # another session, not banned
        ledger_order("e", "oms-primary", 7.0, status="new"),  # accepted (it cannot be, but is not refused)
    ]
    ops = _history([_ban("OMS-PRIMARY", 5.0, 5.0)], orders).ops
    observation = observe(BanRefusals(), ops)
    assert observation.value == 2


def test_a_malformed_ban_is_unknown_with_the_reason() -> None:
    ops = _history([{"kind": "ban", "t_ns": "soon"}]).ops
    observation = observe(BanCount(), ops)
    assert observation.value is None
    assert observation.error is not None
    assert "malformed bans" in observation.error


def test_merged_spans_joins_touching_and_overlapping_spans_in_order() -> None:
    assert merged_spans([(5, 7), (1, 3), (3, 4), (6, 9)]) == [(1, 4), (5, 9)]
