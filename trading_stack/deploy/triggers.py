"""Automated rollback triggers beyond green's rejects: a P&L breach and excessive message latency
(seed 003), slippage over a bound (seed 001).

Each is configured in ``DeployConfig.triggers`` (off when absent) and watches green only while it
takes traffic, from what green's own traffic shows the deployer:

- ``pnl``: green's PnL (``oms.pnl``, realised plus marked) fell more than ``max_loss`` below the
  first value it reported after taking traffic;
- ``slippage``: green's effective half-spread on one symbol over ``window_s`` — half the gap between
  its quantity-weighted average buy and sell fill prices, in bp of their midpoint — above
  ``max_bps``. It needs no reference price: buys and sells in the same window straddle the price,
  so the gap is what green paid to cross (the touch's half-spread when it executes well). Judged
  once each side has ``min_fills`` fills;
- ``ack_latency``: the 99th percentile of green's order answer times at the front door (request
  to the OMS's answer, which waits for the venue's ack) over ``window_s`` above ``p99_ms``, once
  ``min_samples`` are in the window.

Pure: every observation carries its time; :meth:`TriggerWatch.breach` says which bound is exceeded.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "LatencyTrigger",
    "PnlTrigger",
    "RollbackTriggers",
    "SlippageTrigger",
    "TriggerName",
    "TriggerReading",
    "TriggerWatch",
]

NS_PER_S = 1_000_000_000
BPS = 10_000.0


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PnlTrigger(_Frozen):
    max_loss: float = Field(gt=0, allow_inf_nan=False, description="loss since green took traffic")


class SlippageTrigger(_Frozen):
    max_bps: float = Field(gt=0, allow_inf_nan=False, description="effective half-spread bound, in bp")
    window_s: float = Field(default=5.0, gt=0, le=3600, allow_inf_nan=False)
    min_fills: int = Field(default=5, ge=1, description="fills on each side before a judgement")


class LatencyTrigger(_Frozen):
    p99_ms: float = Field(gt=0, allow_inf_nan=False, description="bound on the p99 order answer time")
    window_s: float = Field(default=5.0, gt=0, le=3600, allow_inf_nan=False)
    min_samples: int = Field(default=20, ge=1)


class RollbackTriggers(_Frozen):
    pnl: PnlTrigger | None = None
    slippage: SlippageTrigger | None = None
    ack_latency: LatencyTrigger | None = None


class TriggerName(StrEnum):
    PNL = "pnl"
    SLIPPAGE = "slippage"
    ACK_LATENCY = "ack-latency"


class TriggerReading(_Frozen):
    """A bound exceeded: what was measured (``value``), against what, over how many samples."""

    trigger: TriggerName
    value: float
    bound: float
    samples: int
    symbol: str | None = None

    def describe(self) -> str:
        units = {TriggerName.PNL: "", TriggerName.SLIPPAGE: " bp", TriggerName.ACK_LATENCY: " ms"}
        unit = units[self.trigger]
        what = {TriggerName.PNL: "green's loss since it took traffic",
                TriggerName.SLIPPAGE: f"green's effective half-spread on {self.symbol}",
                TriggerName.ACK_LATENCY: "p99 of green's order answer time"}[self.trigger]
        return f"{what} {self.value:g}{unit} > {self.bound:g}{unit} ({self.samples} samples)"


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in (0, 1]) of a non-empty list."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _window_ns(seconds: float) -> int:
    return int(seconds * NS_PER_S)


class TriggerWatch:
    """Green's numbers since it took traffic, and the first configured bound they exceed."""

    def __init__(self, triggers: RollbackTriggers) -> None:
        self.triggers = triggers
        self._pnl_baseline: float | None = None
        self._pnl: float | None = None
        self._pnl_reports = 0
        self._fills: dict[str, deque[tuple[int, int, float]]] = defaultdict(deque)
        self._latencies: deque[tuple[int, float]] = deque()

    def reset(self) -> None:
        """Forget every observation (green stopped or started taking traffic)."""
        self._pnl_baseline = self._pnl = None
        self._pnl_reports = 0
        self._fills.clear()
        self._latencies.clear()

    # -- observations -------------------------------------------------------------------------
    def observe_pnl(self, pnl: float) -> None:
        if not math.isfinite(pnl):
            return
        if self._pnl_baseline is None:
            self._pnl_baseline = pnl
        self._pnl = pnl
        self._pnl_reports += 1

    def observe_fill(self, t_ns: int, symbol: str, signed_qty: int, price: float) -> None:
        if self.triggers.slippage is not None and signed_qty and math.isfinite(price) and price > 0:
            self._fills[symbol].append((t_ns, signed_qty, price))

    def observe_latencies(self, t_ns: int, samples_ms: tuple[float, ...]) -> None:
        if self.triggers.ack_latency is not None:
            self._latencies.extend((t_ns, ms) for ms in samples_ms if math.isfinite(ms) and ms >= 0)

    # -- judgement ----------------------------------------------------------------------------
    def breach(self, now_ns: int) -> TriggerReading | None:
        return self._pnl_breach() or self._slippage_breach(now_ns) or self._latency_breach(now_ns)

    def _pnl_breach(self) -> TriggerReading | None:
        bound = self.triggers.pnl
        if bound is None or self._pnl_baseline is None or self._pnl is None:
            return None
        loss = self._pnl_baseline - self._pnl
        if loss <= bound.max_loss:
            return None
        return TriggerReading(trigger=TriggerName.PNL, value=round(loss, 2), bound=bound.max_loss,
                              samples=self._pnl_reports)

    def _slippage_breach(self, now_ns: int) -> TriggerReading | None:
        bound = self.triggers.slippage
        if bound is None:
            return None
        horizon = now_ns - _window_ns(bound.window_s)
        for symbol, fills in sorted(self._fills.items()):
            while fills and fills[0][0] <= horizon:
                fills.popleft()
            buys = [(qty, price) for _, qty, price in fills if qty > 0]
            sells = [(-qty, price) for _, qty, price in fills if qty < 0]
            if len(buys) < bound.min_fills or len(sells) < bound.min_fills:
                continue
            half_spread = effective_half_spread_bps(buys, sells)
            if half_spread > bound.max_bps:
                return TriggerReading(trigger=TriggerName.SLIPPAGE, value=round(half_spread, 2),
                                      bound=bound.max_bps, samples=len(buys) + len(sells), symbol=symbol)
        return None

    def _latency_breach(self, now_ns: int) -> TriggerReading | None:
        bound = self.triggers.ack_latency
        if bound is None:
            return None
        horizon = now_ns - _window_ns(bound.window_s)
        while self._latencies and self._latencies[0][0] <= horizon:
            self._latencies.popleft()
        if len(self._latencies) < bound.min_samples:
            return None
        p99 = percentile([ms for _, ms in self._latencies], 0.99)
        if p99 <= bound.p99_ms:
            return None
        return TriggerReading(trigger=TriggerName.ACK_LATENCY, value=round(p99, 1), bound=bound.p99_ms,
                              samples=len(self._latencies))


def effective_half_spread_bps(buys: list[tuple[int, float]], sells: list[tuple[int, float]]) -> float:
    """Half the gap between the quantity-weighted average buy and sell prices, in bp of their midpoint
    (both lists non-empty, quantities positive)."""
    average_buy = sum(qty * price for qty, price in buys) / sum(qty for qty, _ in buys)
    average_sell = sum(qty * price for qty, price in sells) / sum(qty for qty, _ in sells)
    mid = (average_buy + average_sell) / 2
    return (average_buy - average_sell) / 2 / mid * BPS
