from typing import Any

import pytest
from pydantic import ValidationError

from gameday.scenario import (
    PRESETS,
    EqualsBound,
    Expectation,
    MaxBound,
    MinBound,
    PartitionFault,
    PartitionMode,
    PauseFault,
    RangeBound,
    Scenario,
    StackPreset,
    topology,
)
from trading_stack.config import Defect


def _scenario(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "model-test",
        "description": "d",
        "seed": 3,
        "stack": {"preset": "active-passive", "defects": ["no-fencing"]},
        "workload": {"orders_per_second": 50, "symbols": ["BTC-USD", "ETH-USD"], "duration": "30s"},
        "timeline": [
            {"at": "10s", "fault": "pause", "target": "oms-primary", "for": "4s"},
            {"at": "5s", "fault": "partition", "proxy": "oms-primary->nats", "mode": "timeout", "for": 5},
        ],
        "expect": {"rto.failover": {"max": "15s"}, "orders.ghost": 0,
                   "writers.concurrent_active": {"min": 1, "max": 1}, "orders.client_failed": {"min": 0}},
    }
    data.update(overrides)
    return data


def test_a_scenario_built_from_data_is_typed() -> None:
    scenario = Scenario.model_validate(_scenario())

    assert scenario.stack.defects == (Defect.NO_FENCING,)
    pause, partition = scenario.timeline
    assert isinstance(pause, PauseFault)
    assert pause.duration.seconds == 4.0
    assert isinstance(partition, PartitionFault)
    assert partition.mode is PartitionMode.TIMEOUT
    assert partition.duration.seconds == 5.0


def test_bounds_are_typed_by_shape() -> None:
    expect = Scenario.model_validate(_scenario()).expect

    assert expect["rto.failover"].bound == MaxBound(max=15.0)
    assert expect["orders.ghost"].bound == EqualsBound(equals=0)
    assert expect["writers.concurrent_active"].bound == RangeBound(min=1, max=1)
    assert expect["orders.client_failed"].bound == MinBound(min=0)


@pytest.mark.parametrize(("spec", "complaint"), [
    ({}, "expected a bound"),
    ({"equals": 1, "max": 2}, "either equals or max/min"),
    ({"min": 3, "max": 2}, "expected min <= max"),
    ({"max": "1s"}, "expected a number (count)"),
    ({"max": True}, "expected a number"),
])
def test_bad_bounds(spec: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint.replace("(", r"\(").replace(")", r"\)")):
        Scenario.model_validate(_scenario(expect={"orders.ghost": spec}))


def test_rto_bounds_accept_durations_and_bare_seconds() -> None:
    scenario = Scenario.model_validate(_scenario(expect={"rto.failover": {"max": 2.5}}))

    assert scenario.expect["rto.failover"].max == 2.5
    in_minutes = Scenario.model_validate(_scenario(expect={"rto.failover": {"max": "1m"}}))
    assert in_minutes.expect["rto.failover"].max == 60


def test_at_least_one_expectation_is_required() -> None:
    with pytest.raises(ValidationError, match="expect"):
        Scenario.model_validate(_scenario(expect={}))


@pytest.mark.parametrize(("workload", "complaint"), [
    ({"symbols": []}, "at least 1"),
    ({"symbols": ["BTC-USD", "BTC-USD"]}, "expected distinct symbols"),
    ({"symbols": ["btc usd"]}, "expected an instrument symbol"),
    ({"market_order_ratio": 1.5}, "less than or equal to 1"),
    ({"duration": "0s"}, "greater than 0"),
])
def test_bad_workloads(workload: dict[str, Any], complaint: str) -> None:
    base = _scenario()["workload"]
    with pytest.raises(ValidationError, match=complaint):
        Scenario.model_validate(_scenario(workload={**base, **workload}))


def test_the_seed_must_be_an_integer_not_a_string_or_bool() -> None:
    with pytest.raises(ValidationError, match="seed"):
        Scenario.model_validate(_scenario(seed="7"))
    with pytest.raises(ValidationError, match="seed"):
        Scenario.model_validate(_scenario(seed=True))


def test_models_are_frozen() -> None:
    scenario = Scenario.model_validate(_scenario())

    with pytest.raises(ValidationError):
        scenario.seed = 8  # type: ignore[misc]


def test_expectation_built_directly() -> None:
    assert Expectation(name="orders.ghost", max=2).bound == MaxBound(max=2)


def test_preset_lists_services_and_hops() -> None:
    active_passive = topology(StackPreset.ACTIVE_PASSIVE)

    assert active_passive is PRESETS[StackPreset.ACTIVE_PASSIVE]
    assert "oms-primary" in active_passive.services
    expected_hops = {"failover->nats", "failover->oms-primary", "witness->oms-primary"}
    assert expected_hops <= set(active_passive.hop_names)
    assert len(set(active_passive.hop_names)) == len(active_passive.hops)
    assert all(hop.source in active_passive.services + active_passive.vantages
               and hop.destination in active_passive.services for hop in active_passive.hops)
