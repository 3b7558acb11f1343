"""The front door's routing table: smooth weighted round-robin, owners by ClOrdID prefix, validation."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from pydantic import ValidationError

from trading_stack.deploy.actions import Upstream
from trading_stack.front_door_routes import FrontDoorConfig, Routes, UnknownInstance, owner_of

URLS = {"oms-blue": "http://127.0.0.1:1/", "oms-green": "http://127.0.0.1:2"}


def table(**weights: int) -> Routes:
    upstreams = [Upstream(instance=name.replace("_", "-"), weight=w) for name, w in weights.items()]
    return Routes.build(7, upstreams, URLS)


def test_ninety_ten_sends_exactly_one_request_in_ten_to_the_canary_spread_out() -> None:
    routes = table(oms_blue=90, oms_green=10)
    picks = [routes.pick().instance for _ in range(30)]
    assert Counter(picks) == {"oms-blue": 27, "oms-green": 3}
    green_at = [i for i, name in enumerate(picks) if name == "oms-green"]
    assert all(b - a == 10 for a, b in itertools.pairwise(green_at))


def test_the_choice_is_deterministic_and_a_single_upstream_takes_everything() -> None:
    assert table(oms_blue=50, oms_green=50).pick().instance == "oms-blue"  # a tie goes to the first
    first, second = table(oms_blue=3, oms_green=1), table(oms_blue=3, oms_green=1)
    assert [first.pick().instance for _ in range(8)] == [second.pick().instance for _ in range(8)]
    only = table(oms_green=100)
    assert {only.pick().url for _ in range(5)} == {"http://127.0.0.1:2"}
    assert table(oms_blue=10, oms_green=90).primary().instance == "oms-green"


def test_an_unknown_instance_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(UnknownInstance, match=r"oms-red.*oms-blue"):
        Routes.build(1, [Upstream(instance="oms-red", weight=100)], URLS)


@pytest.mark.parametrize(("order_id", "owner"), [
    ("oms-blue-17-3", "oms-blue"), ("oms-green-1-1", "oms-green"), ("oms-blueish-1-1", None), ("x", None),
])
def test_an_order_belongs_to_the_instance_its_clordid_names(order_id: str, owner: str | None) -> None:
    assert owner_of(order_id, ("oms-blue", "oms-green")) == owner


def test_the_config_refuses_upstreams_it_has_no_url_for() -> None:
    with pytest.raises(ValidationError, match="unknown instances"):
        FrontDoorConfig(http_port=0, admin_token="t", instances={"oms-blue": "http://127.0.0.1:1"},
                        upstreams=(Upstream(instance="oms-green", weight=100),))
