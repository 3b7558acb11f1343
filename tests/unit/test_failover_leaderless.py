"""LeaderlessWatch: after a failover, promote again only when nobody has been active for a while."""

from __future__ import annotations

import pytest

from trading_stack.failover_logic import LeaderlessWatch

ACTIVE = {"role": "active", "promotable": False}
FENCED = {"role": "fenced", "promotable": True}
CATCHING_UP = {"role": "fenced", "promotable": False}


def test_an_active_candidate_resets_the_count() -> None:
    watch = LeaderlessWatch(2, 3)
    assert watch.observe([FENCED, None]) is None
    assert watch.observe([FENCED, None]) is None
    assert watch.observe([ACTIVE, None]) is None
    assert watch.checks_without_leader == 0
    assert watch.observe([FENCED, None]) is None
    assert watch.observe([FENCED, None]) is None
    assert watch.observe([FENCED, None]) == 0


def test_the_first_promotable_candidate_in_order_is_chosen_and_the_count_restarts() -> None:
    watch = LeaderlessWatch(2, 2)
    assert watch.observe([CATCHING_UP, FENCED]) is None
    assert watch.observe([CATCHING_UP, FENCED]) == 1
    assert watch.checks_without_leader == 0
    assert watch.observe([FENCED, FENCED]) is None
    assert watch.observe([FENCED, FENCED]) == 0


def test_silent_candidates_are_never_chosen_and_nobody_promotable_means_no_choice() -> None:
    watch = LeaderlessWatch(2, 1)
    assert watch.observe([None, None]) is None
    assert watch.observe([CATCHING_UP, None]) is None
    assert watch.checks_without_leader == 2


def test_one_role_per_candidate() -> None:
    with pytest.raises(ValueError, match="one role per candidate"):
        LeaderlessWatch(2, 3).observe([FENCED])
