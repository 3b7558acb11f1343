"""The deployer process's configuration: defects reach every part, the scenario's market clock."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import ValidationError

from trading_stack.defects import Defect
from trading_stack.deploy.config import DeployConfig
from trading_stack.deploy.market_clock import MarketPhase
from trading_stack.deploy.scheduler import DeploySchedule
from trading_stack.deploy.service_config import ClockSpec, DeployerServiceConfig
from trading_stack.deploy.verifier import VerifierConfig

BASE = {"http_port": 0, "admin_token": "t", "nats_url": "nats://127.0.0.1:1",
        "front_door_admin_url": "http://127.0.0.1:2", "oms_admin_urls": {"blue": "http://127.0.0.1:3",
                                                                            "green": "http://127.0.0.1:4"}}


def test_process_defects_are_added_to_each_part_once() -> None:
    config = DeployerServiceConfig.model_validate({
        **BASE, "defects": ["verifier-ignores-lag", "canary-deploy"],
        "deploy": {"defects": ["canary-deploy"]},
    })
    assert config.with_defects(config.deploy).defects == (Defect.CANARY_DEPLOY, Defect.VERIFIER_IGNORES_LAG)
    assert Defect.VERIFIER_IGNORES_LAG in config.with_defects(VerifierConfig()).defects
    expected = (Defect.VERIFIER_IGNORES_LAG, Defect.CANARY_DEPLOY)
    assert config.with_defects(DeploySchedule()).defects == expected
    assert isinstance(config.with_defects(DeployConfig()), DeployConfig)


def test_the_scenario_clock_starts_in_exchange_time_at_its_anchor() -> None:
    clock = ClockSpec(start=datetime(2026, 11, 20, 10, 59, 30), anchor_ns=5_000_000_000).market_clock()
    assert clock.now(5_000_000_000).isoformat() == "2026-11-20T10:59:30-05:00"
    assert clock.now(35_000_000_000).hour == 11
    assert clock.phase(5_000_000_000) is MarketPhase.OPEN


MARS = {"start": "2026-11-20T10:00:00", "anchor_ns": 0, "tz": "Mars/Olympus"}


@pytest.mark.parametrize("bad", [{"oms_admin_urls": {"blue": "http://x"}}, {"tick_interval_s": 0},
                                 {"clock": MARS}, {"surprise": 1}])
def test_a_bad_config_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        DeployerServiceConfig.model_validate({**BASE, **bad})
