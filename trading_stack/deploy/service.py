"""The deployer process (docs/deploy.md §4).

``python -m trading_stack.deploy.service --config deployer.json``.

One :class:`~trading_stack.deploy.driver.DeployDriver` is fed by: the verifier (blue's
``<prefix>.outputs`` and green's ``<prefix>.shadow.outputs``, read from the start of the stream),
a tick, blue's and green's deep health (and the role each answers with), the front door's order
outcomes and answer times, the instances' fills and PnL (the rollback triggers), and — with a
schedule — the scheduler, guarded by the market clock and the traded volume. Its actions are
HTTP calls (:class:`~trading_stack.deploy.http_executor.HttpExecutor`).
Everything it decides is published on ``deploy.phases``, ``deploy.verdicts``, ``deploy.actions``
and ``deploy.schedule``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from trading_stack.clock import MonotonicNs, monotonic_ns
from trading_stack.deploy.actions import ActionOutcome, DeployAction, Executor
from trading_stack.deploy.deployer import Deployer
from trading_stack.deploy.driver import DeployDriver
from trading_stack.deploy.http_executor import HttpExecutor
from trading_stack.deploy.market_clock import MarketClock, TradingHours
from trading_stack.deploy.outputs import OUTPUTS_SUBJECT, SHADOW_OUTPUTS_SUBJECT, OutputMessage
from trading_stack.deploy.scheduler import DeployScheduler, GateReason, VolumeMeter
from trading_stack.deploy.service_api import build_app
from trading_stack.deploy.service_config import DeployerServiceConfig
from trading_stack.deploy.timeline import (
    DeployEvent,
    DeployInput,
    DeployRequested,
    FillReport,
    HealthReport,
    OrderOutcomes,
    PnlReport,
    RollbackRequested,
    Tick,
    VerifierReport,
)
from trading_stack.deploy.verifier import Color, Verdict, Verifier
from trading_stack.deploy.versions import OmsVersion
from trading_stack.events import connect_nats
from trading_stack.roles import Role
from trading_stack.runtime import announce_ready, load_config, run_service, setup_logging, start_http

__all__ = ["DeployerService", "PublishingExecutor", "main"]

log = logging.getLogger(__name__)

NS_PER_S = 1_000_000_000
Publish = Callable[[str, dict[str, Any]], None]


class PublishingExecutor:
    """Runs each action with ``inner`` and says how it went on ``deploy.actions``."""

    def __init__(self, inner: Executor, publish: Publish, clock: MonotonicNs) -> None:
        self._inner = inner
        self._publish = publish
        self._clock = clock
        self.batch: int | None = None

    async def execute(self, action: DeployAction) -> ActionOutcome:
        outcome = await self._inner.execute(action)
        self._publish("deploy.actions", {"batch": self.batch, "action": action.model_dump(mode="json"),
                                         "ok": outcome.ok, "error": outcome.error, "t_ns": self._clock()})
        return outcome


class DeployerService:
    def __init__(self, config: DeployerServiceConfig, clock: MonotonicNs = monotonic_ns) -> None:
        self.config = config
        self.clock = clock
        self.deployer = Deployer(config.with_defects(config.deploy))
        self.verifier = Verifier(config.with_defects(config.verifier))
        self.market = config.clock.market_clock() if config.clock is not None else MarketClock(
            start=datetime.now(UTC), anchor_ns=clock(), hours=TradingHours())
        schedule = config.with_defects(config.schedule) if config.schedule is not None else None
        self.scheduler = DeployScheduler(schedule, self.market) if schedule is not None else None
        lookback = config.schedule.volume_lookback_s if config.schedule is not None else 300.0
        self.volume = VolumeMeter(int(lookback * NS_PER_S))
        self._nc: NatsClient | None = None
        self._driver: DeployDriver | None = None
        self._executor: PublishingExecutor | None = None
        self._verdict: Verdict | None = None
        self._verdict_published_ns = 0
        self._schedule_reason: GateReason | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- inputs --------------------------------------------------------------------------------
    async def feed(self, event: DeployInput) -> None:
        if self._driver is not None:
            await self._driver.feed(event)

    def submit(self, event: DeployInput) -> None:
        """Feed ``event`` in the background (an HTTP request does not wait for the batch it starts)."""
        task = asyncio.get_running_loop().create_task(self.feed(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def request_deploy(self, version: OmsVersion) -> GateReason | None:
        now = self.clock()
        if self.scheduler is not None:
            reason = self.scheduler.guard(now, self.volume.volume(now))
            if reason is not None:
                return reason
        self.submit(DeployRequested(t_ns=now, version=version))
        return None

    def request_rollback(self, operator: str) -> None:
        self.submit(RollbackRequested(t_ns=self.clock(), operator=operator))

    # -- outputs ---------------------------------------------------------------------------------
    def publish(self, subject: str, body: dict[str, Any]) -> None:
        nc = self._nc
        if nc is None or not nc.is_connected:
            return
        task = asyncio.get_running_loop().create_task(nc.publish(subject, json.dumps(body).encode()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_event(self, event: DeployEvent) -> None:
        log.info("deploy %s -> %s (%s)", event.previous, event.phase, event.reason)
        if event.batch is not None and self._executor is not None:
            self._executor.batch = event.batch
        self.publish("deploy.phases", event.model_dump(mode="json"))

    def status(self) -> dict[str, Any]:
        now = self.clock()
        return {"phase": self.deployer.phase.value,
                "version": self.deployer.version.value if self.deployer.version else None,
                "blockers": [b.value for b in self.deployer.blockers(now)],
                "verification": self.verifier.verdict(now).model_dump(mode="json"),
                "guarded": self.scheduler is not None and self.scheduler.guarded,
                "exchange_time": self.market.now(now).isoformat()}

    # -- loops -----------------------------------------------------------------------------------
    async def _tick(self) -> None:
        interval = self.config.tick_interval_s
        while True:
            await asyncio.sleep(interval)
            now = self.clock()
            verification = self.verifier.verdict(now)
            await self.feed(VerifierReport(t_ns=now, verification=verification))
            await self.feed(Tick(t_ns=now))
            changed = verification.verdict is not self._verdict
            if changed or now - self._verdict_published_ns >= self.config.verdict_interval_s * NS_PER_S:
                self._verdict, self._verdict_published_ns = verification.verdict, now
                self.publish("deploy.verdicts", verification.model_dump(mode="json"))
            await self._schedule(now)

    async def _schedule(self, now: int) -> None:
        if self.scheduler is None:
            return
        decision = self.scheduler.decide(now, self.volume.volume(now))
        if decision.reason is not self._schedule_reason:
            self._schedule_reason = decision.reason
            self.publish("deploy.schedule", decision.model_dump(mode="json"))
        if decision.act:
            await self.feed(DeployRequested(t_ns=now, version=self.config.scheduled_version))

    async def _probe(self, http: aiohttp.ClientSession, instance: str, base_url: str) -> HealthReport:
        """``GET /health/deep``: ready (200) or not, and the role the body names; no answer: not reachable."""
        timeout = aiohttp.ClientTimeout(total=min(1.0, self.config.health_interval_s * 4))
        try:
            async with http.get(f"{base_url.rstrip('/')}/health/deep", timeout=timeout) as response:
                deep_ok = response.status == 200
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError):
            return HealthReport(t_ns=self.clock(), instance=instance, deep_ok=False, reachable=False)
        except ValueError:
            body = None
        role: Role | None = None
        with contextlib.suppress(TypeError, KeyError, ValueError):
            role = Role(body["role"])
        return HealthReport(t_ns=self.clock(), instance=instance, deep_ok=deep_ok, role=role)

    async def _watch_health(self, http: aiohttp.ClientSession, instance: str, base_url: str) -> None:
        while True:
            await self.feed(await self._probe(http, instance, base_url))
            await asyncio.sleep(self.config.health_interval_s)

    async def _on_output(self, msg: Msg) -> None:
        try:
            message = OutputMessage.model_validate_json(msg.data)
        except ValueError as err:
            log.warning("skipped a bad output on %s: %s", msg.subject, err)
            return
        shadow = msg.subject.endswith(f".{SHADOW_OUTPUTS_SUBJECT}")
        expected = self.config.deploy.green if shadow else self.config.deploy.blue
        if message.instance == expected:
            self.verifier.observe(Color.GREEN if shadow else Color.BLUE, message.output())

    async def _on_outcomes(self, msg: Msg) -> None:
        try:
            body = json.loads(msg.data)
            event = OrderOutcomes(t_ns=self.clock(), instance=body["instance"], accepted=body["accepted"],
                                  rejected=body["rejected"], answer_ms=tuple(body.get("answer_ms", ())))
        except (ValueError, KeyError, TypeError) as err:
            log.warning("skipped bad front-door outcomes: %s", err)
            return
        await self.feed(event)

    async def _on_fill(self, msg: Msg) -> None:
        now = self.clock()
        try:
            body = json.loads(msg.data)
            qty = int(body["qty"])
            self.volume.record(now, qty)
            signed_qty = qty if body["side"] == "buy" else -qty
            event = FillReport(t_ns=now, instance=body["instance"], symbol=body["symbol"],
                               signed_qty=signed_qty, price=body["price"])
        except (ValueError, KeyError, TypeError):
            return
        await self.feed(event)

    async def _on_pnl(self, msg: Msg) -> None:
        try:
            body = json.loads(msg.data)
            event = PnlReport(t_ns=self.clock(), instance=body["instance"], pnl=body["pnl"])
        except (ValueError, KeyError, TypeError):
            return
        await self.feed(event)

    async def _subscribe(self, nc: NatsClient) -> None:
        prefix = self.config.subject_prefix
        await nc.subscribe("frontdoor.outcomes", cb=self._on_outcomes)
        await nc.subscribe(f"{prefix}.fills", cb=self._on_fill)
        await nc.subscribe(f"{prefix}.pnl", cb=self._on_pnl)
        js = nc.jetstream(timeout=2.0)
        for subject in (f"{prefix}.{OUTPUTS_SUBJECT}", f"{prefix}.{SHADOW_OUTPUTS_SUBJECT}"):
            while True:  # the stream is created by the first OMS instance
                try:
                    await js.subscribe(subject, stream=self.config.stream, cb=self._on_output,
                                       ordered_consumer=True, idle_heartbeat=1.0)
                    break
                except Exception as err:
                    log.warning("subscribing to %s failed (%s); retrying", subject, err)
                    await asyncio.sleep(0.5)

    # -- lifecycle -------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event, on_ready: Callable[[int], None] = announce_ready) -> None:
        config = self.config
        async with contextlib.AsyncExitStack() as stack:
            http = await stack.enter_async_context(aiohttp.ClientSession())
            urls = {config.deploy.blue: str(config.oms_admin_urls.blue),
                    config.deploy.green: str(config.oms_admin_urls.green)}
            inner = HttpExecutor(http, urls, str(config.front_door_admin_url), config.admin_token,
                                 config.action_timeout_s)
            self._executor = PublishingExecutor(inner, self.publish, self.clock)
            self._driver = DeployDriver(self.deployer, self._executor, self.clock, self._on_event)
            runner, port = await start_http(build_app(self), config.host, config.http_port)
            stack.push_async_callback(runner.cleanup)
            self._nc = await connect_nats(config.nats_url, name="deployer")
            stack.push_async_callback(self._close_nats)
            await self._subscribe(self._nc)
            probes = [asyncio.create_task(self._watch_health(http, name, url)) for name, url in urls.items()]
            loops = [asyncio.create_task(self._tick()), *probes]
            try:
                on_ready(port)
                await stop.wait()
            finally:
                for task in [*loops, *self._tasks]:
                    task.cancel()
                await asyncio.gather(*loops, *self._tasks, return_exceptions=True)

    async def _close_nats(self) -> None:
        if self._nc is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await self._nc.close()


def main(argv: Sequence[str] | None = None) -> int:
    config = load_config(DeployerServiceConfig, argv, "python -m trading_stack.deploy.service")
    setup_logging("deployer", "deployer")

    async def _main(stop: asyncio.Event) -> None:
        await DeployerService(config).run(stop)

    return run_service(_main)


if __name__ == "__main__":
    sys.exit(main())
