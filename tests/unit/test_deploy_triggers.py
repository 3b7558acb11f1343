"""Automated rollback triggers (P&L, slippage, ack latency) and the rollback's unwind."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tests.unit.deploy_run import BLUE, GREEN, Run, S
from trading_stack.config import Defect
from trading_stack.deploy.actions import InstanceRole, SetRole, SetUpstreams, Unwind
from trading_stack.deploy.config import DeployConfig
from trading_stack.deploy.timeline import (
    DeployPhase,
    DeployReason,
    FillReport,
    OrderOutcomes,
    PnlReport,
)
from trading_stack.deploy.triggers import (
    RollbackTriggers,
    SlippageTrigger,
    TriggerName,
    TriggerWatch,
    effective_half_spread_bps,
    percentile,
)

Phase = DeployPhase
SLIPPAGE = {"slippage": {"max_bps": 20, "window_s": 5, "min_fills": 3}}


def fills(t_s: float, instance: str, half_spread_bps: float, count: int = 3, mid: float = 100.0,
          ) -> list[FillReport]:
    """``count`` buys and ``count`` sells at ``mid`` ± ``half_spread_bps``."""
    offset = mid * half_spread_bps / 10_000
    return [FillReport(t_ns=int(t_s * S), instance=instance, symbol="BTC-USD", signed_qty=sign * 2,
                       price=mid + sign * offset)
            for _ in range(count) for sign in (1, -1)]


async def feed_all(run: Run, events: list[Any]) -> None:
    for event in events:
        await run.feed(event)


# -- pure measurements ------------------------------------------------------------------
def test_effective_half_spread_weighs_by_quantity_and_is_relative_to_the_midpoint() -> None:
    assert effective_half_spread_bps([(1, 101.0)], [(1, 99.0)]) == pytest.approx(100.0)
    weighted = effective_half_spread_bps([(3, 100.5), (1, 104.5)], [(2, 99.0)])
    assert weighted == pytest.approx(1.25 / 100.25 * 10_000)
    assert effective_half_spread_bps([(1, 99.0)], [(1, 101.0)]) == pytest.approx(-100.0)


def test_percentile_is_nearest_rank() -> None:
    samples = [float(ms) for ms in range(1, 101)]
    assert percentile(samples, 0.99) == 99.0
    assert percentile([*samples, 5_000.0], 0.99) == 100.0
    assert percentile([7.0], 0.99) == 7.0


def test_a_watch_without_configured_triggers_never_breaches() -> None:
    watch = TriggerWatch(RollbackTriggers())
    watch.observe_pnl(0.0)
    watch.observe_pnl(-1e9)
    watch.observe_latencies(S, (10_000.0,) * 100)
    watch.observe_fill(S, "X", 1, 200.0)
    watch.observe_fill(S, "X", -1, 1.0)
    assert watch.breach(S) is None


def test_slippage_is_judged_only_with_enough_fills_on_both_sides_inside_the_window() -> None:
    watch = TriggerWatch(RollbackTriggers(slippage=SlippageTrigger(max_bps=20, window_s=5, min_fills=3)))
    for event in fills(1, GREEN, 50, count=2):
        watch.observe_fill(event.t_ns, event.symbol, event.signed_qty, event.price)
    assert watch.breach(1 * S) is None  # two fills a side: no judgement yet
    for event in fills(2, GREEN, 50, count=1):
        watch.observe_fill(event.t_ns, event.symbol, event.signed_qty, event.price)
    reading = watch.breach(2 * S)
    assert reading is not None
    assert reading.trigger is TriggerName.SLIPPAGE
    assert (reading.value, reading.samples, reading.symbol) == (50.0, 6, "BTC-USD")
    assert watch.breach(6_500_000_000) is None  # the first fills left the 5 s window


# -- through the deployer ---------------------------------------------------------------
async def test_green_losing_more_than_the_bound_since_it_went_live_rolls_back_with_an_unwind() -> None:
    run = Run(triggers={"pnl": {"max_loss": 1000}})
    await run.live()

    await run.feed(PnlReport(t_ns=11 * S, instance=GREEN, pnl=5_000.0))
    await run.feed(PnlReport(t_ns=12 * S, instance=GREEN, pnl=4_000.0))
    await run.feed(PnlReport(t_ns=12 * S, instance=BLUE, pnl=-90_000.0))
    assert run.phase is Phase.LIVE  # a loss of exactly the bound, and blue's numbers, do not count

    await run.feed(PnlReport(t_ns=13 * S, instance=GREEN, pnl=3_999.0))

    assert run.phase is Phase.ROLLED_BACK
    triggered = next(e for e in run.events if e.reason is DeployReason.PNL_BREACHED)
    assert triggered.t_ns == 13 * S
    assert triggered.trigger is not None
    assert (triggered.trigger.value, triggered.trigger.bound) == (1001.0, 1000)
    assert triggered.note is not None
    assert "1001" in triggered.note
    executed = run.executor.executed
    blue_active = executed.index(SetRole(instance=BLUE, role=InstanceRole.ACTIVE))
    unwind = executed.index(Unwind(instance=BLUE, timeout_s=5.0))
    blue_traffic = max(i for i, a in enumerate(executed) if isinstance(a, SetUpstreams))
    assert blue_active < unwind < blue_traffic


async def test_green_paying_more_than_the_slippage_bound_rolls_back() -> None:
    run = Run(triggers=SLIPPAGE)
    await run.live()

    await feed_all(run, fills(11, GREEN, 5))
    await feed_all(run, fills(11, BLUE, 500))
    assert run.phase is Phase.LIVE

    await feed_all(run, fills(13, GREEN, 60))

    assert run.phase is Phase.ROLLED_BACK
    triggered = next(e for e in run.events if e.reason is DeployReason.SLIPPAGE_EXCEEDED)
    assert triggered.trigger is not None
    assert triggered.trigger.value > 20


async def test_green_answering_slower_than_the_p99_bound_rolls_back() -> None:
    run = Run(triggers={"ack_latency": {"p99_ms": 200, "window_s": 3, "min_samples": 20}})
    await run.live()

    await run.feed(OrderOutcomes(t_ns=11 * S, instance=GREEN, accepted=19, rejected=0,
                                 answer_ms=(5.0,) * 18 + (900.0,)))
    assert run.phase is Phase.LIVE  # 19 samples: not enough to judge
    await run.feed(OrderOutcomes(t_ns=12 * S, instance=GREEN, accepted=81, rejected=0, answer_ms=(5.0,) * 81))
    assert run.phase is Phase.LIVE  # one slow answer in 100 is within the p99
    slow = (400.0,) * 30
    await run.feed(OrderOutcomes(t_ns=13 * S, instance=GREEN, accepted=30, rejected=0, answer_ms=slow))

    assert run.phase is Phase.ROLLED_BACK
    triggered = next(e for e in run.events if e.reason is DeployReason.LATENCY_EXCEEDED)
    assert triggered.trigger is not None
    assert triggered.trigger.value == 400.0


async def test_defect_no_auto_rollback_ignores_every_trigger() -> None:
    run = Run(Defect.NO_AUTO_ROLLBACK, triggers={"pnl": {"max_loss": 1}, **SLIPPAGE,
                                                 "ack_latency": {"p99_ms": 1, "min_samples": 1}})
    await run.live()

    await run.feed(PnlReport(t_ns=11 * S, instance=GREEN, pnl=0.0))
    await run.feed(PnlReport(t_ns=12 * S, instance=GREEN, pnl=-1e6))
    await feed_all(run, fills(12, GREEN, 900))
    slow = (5_000.0,) * 5
    await run.feed(OrderOutcomes(t_ns=12 * S, instance=GREEN, accepted=5, rejected=0, answer_ms=slow))
    await run.at(13)

    assert run.phase is Phase.LIVE


async def test_green_numbers_before_it_takes_traffic_are_not_held_against_it() -> None:
    run = Run(triggers={"pnl": {"max_loss": 100}})
    await run.deploy()
    await run.feed(PnlReport(t_ns=1 * S, instance=GREEN, pnl=10_000.0))  # shadow: ignored
    await run.at(10)
    assert run.phase is Phase.LIVE

    await run.feed(PnlReport(t_ns=11 * S, instance=GREEN, pnl=9_950.0))

    assert run.phase is Phase.LIVE  # the baseline is the first report once live



# -- configuration ----------------------------------------------------------------------
@pytest.mark.parametrize(("triggers", "field"), [
    ({"pnl": {"max_loss": 0}}, "triggers.pnl.max_loss"),
    ({"pnl": {}}, "triggers.pnl.max_loss"),
    ({"slippage": {"max_bps": 10, "min_fills": 0}}, "triggers.slippage.min_fills"),
    ({"ack_latency": {"p99_ms": float("nan")}}, "triggers.ack_latency.p99_ms"),
    ({"ack_latency": {"p99_ms": 100, "window": 3}}, "triggers.ack_latency.window"),
    ({"latency": {"p99_ms": 100}}, "triggers.latency"),
])
def test_a_malformed_trigger_is_refused_naming_its_field(triggers: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        DeployConfig.model_validate({"triggers": triggers})
    assert [".".join(str(part) for part in error["loc"]) for error in raised.value.errors()] == [field]


def test_triggers_are_off_unless_configured() -> None:
    config = DeployConfig.model_validate({"triggers": {"ack_latency": {"p99_ms": 250}}})
    assert config.triggers.pnl is None
    assert config.triggers.slippage is None
    assert config.triggers.ack_latency is not None
    assert (config.triggers.ack_latency.window_s, config.triggers.ack_latency.min_samples) == (5.0, 20)
