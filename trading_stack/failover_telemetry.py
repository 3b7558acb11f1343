"""What a failover daemon (the OMS's or the database's) shows of itself: its metrics and a JSON line
per decision (docs/contracts.md, "Observability"). Heartbeats are not logged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from prometheus_client import Counter
from prometheus_client.metrics_core import Metric

from trading_stack.failover_logic import Verdict
from trading_stack.json_log import log_event
from trading_stack.loop_lag import LoopLagMonitor
from trading_stack.metrics_http import ReadingCollector, gauge, labelled_gauge, new_registry

log = logging.getLogger("trading_stack.failover.decisions")

LOOP_LAG_SAMPLES = 10  # the last second of samples


class DaemonTelemetry:
    """``active()``: each instance the daemon knows of -> whether it considers it the active one."""

    def __init__(self, active: Callable[[], Mapping[str, bool]]) -> None:
        self._active = active
        self.registry = new_registry()
        self.loop_lag = LoopLagMonitor()
        self._decisions = Counter("failover_decisions", "decisions taken, by decision", ["decision"],
                                  registry=self.registry)
        self.registry.register(ReadingCollector(self._read))

    def _read(self) -> Iterable[Metric]:
        active = {name: 1.0 if is_active else 0.0 for name, is_active in self._active().items()}
        lag = self.loop_lag.recent_max_ms(LOOP_LAG_SAMPLES) / 1000.0
        return [gauge("failover_up", "the daemon serves", 1),
                labelled_gauge("failover_active_instance", "1 for the instance the daemon considers active",
                               "instance", active),
                gauge("failover_loop_lag_seconds", "event loop lag, worst of the last second", lag)]

    def decided(self, verdict: Verdict, detail: Mapping[str, Any] | None = None) -> None:
        decision = verdict.decision.value
        self._decisions.labels(decision).inc()
        self.note(decision, f"decision {decision}: {verdict.reason}",
                  {"decision": decision, "reason": verdict.reason, "failures": list(verdict.failures),
                   **(detail or {})})

    def note(self, event: str, msg: str, detail: Mapping[str, Any] | None = None,
             level: int = logging.INFO) -> None:
        """A step of a decision carried out (a promotion retried, a fence): logged, not counted."""
        log_event(log, event, msg, level=level, detail=detail)

    async def beside(self, work: Awaitable[None]) -> None:
        """``work`` with the loop-lag sampler running beside it."""
        sampler = asyncio.ensure_future(self.loop_lag.run())
        try:
            await work
        finally:
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
