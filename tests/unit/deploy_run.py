"""A deployer driven through the driver with a recording executor and a clock the test moves."""

from __future__ import annotations

from collections.abc import Callable

from trading_stack.config import Defect
from trading_stack.deploy.actions import DeployAction, RecordingExecutor, SetUpstreams, Upstream
from trading_stack.deploy.config import DeployConfig
from trading_stack.deploy.deployer import Deployer
from trading_stack.deploy.driver import DeployDriver
from trading_stack.deploy.timeline import (
    DeployEvent,
    DeployInput,
    DeployPhase,
    DeployReason,
    DeployRequested,
    HealthReport,
    Tick,
    VerifierReport,
)
from trading_stack.deploy.verifier import Verdict, Verification
from trading_stack.deploy.versions import OmsVersion
from trading_stack.roles import Role

S = 1_000_000_000
BLUE, GREEN = "oms-blue", "oms-green"
WINDOW_NS = 5 * S


def only(instance: str) -> SetUpstreams:
    return SetUpstreams(upstreams=(Upstream(instance=instance, weight=100),))


def verification(verdict: Verdict, t_ns: int, *, blue_seen: int | None = 0, green_seen: int | None = 0,
                 ) -> Verification:
    """A verdict at ``t_ns`` whose last outputs from each side are ``*_seen`` ns old (None: never)."""
    def last(age: int | None) -> int | None:
        return None if age is None else t_ns - age

    return Verification(verdict=verdict, t_ns=t_ns, compared=10, pending=0, lag_ns=0, lag_checked=True,
                        overflowed=False, critical=0, warnings=0, discrepancies=(),
                        last_blue_ns=last(blue_seen), last_green_ns=last(green_seen),
                        evidence_window_ns=WINDOW_NS)


def blue_report(t_ns: int, state: str) -> HealthReport:
    """Blue as the deployer's probe saw it: ``alive``, ``dead`` (no answer), ``unhealthy``, ``parked``."""
    if state == "dead":
        return HealthReport(t_ns=t_ns, instance=BLUE, deep_ok=False, reachable=False)
    role = Role.PARKED if state == "parked" else Role.ACTIVE
    return HealthReport(t_ns=t_ns, instance=BLUE, deep_ok=state != "unhealthy", role=role)


class Run:
    """A deployer, a recording executor and a clock the test moves."""

    def __init__(self, *defects: Defect, fail: Callable[[DeployAction], str | None] = lambda a: None,
                 **config: object) -> None:
        self.now = 0
        self.executor = RecordingExecutor(fail)
        self.deployer = Deployer(DeployConfig.model_validate({"defects": defects, **config}))
        self.events: list[DeployEvent] = []
        self.driver = DeployDriver(self.deployer, self.executor, lambda: self.now, self.events.append)

    async def feed(self, event: DeployInput) -> list[DeployEvent]:
        self.now = max(self.now, event.t_ns)
        return await self.driver.feed(event)

    async def at(self, seconds: float, verdict: Verdict | None = Verdict.CLEAN,
                 healthy: bool | None = True, *, blue: str | None = "alive", blue_seen: int | None = 0,
                 green_seen: int | None = 0) -> None:
        """Reports at ``seconds`` (None: that report is not sent), then a tick."""
        t_ns = int(seconds * S)
        if verdict is not None:
            checked = verification(verdict, t_ns, blue_seen=blue_seen, green_seen=green_seen)
            await self.feed(VerifierReport(t_ns=t_ns, verification=checked))
        if healthy is not None:
            await self.feed(HealthReport(t_ns=t_ns, instance=GREEN, deep_ok=healthy))
        if blue is not None:
            await self.feed(blue_report(t_ns, blue))
        await self.feed(Tick(t_ns=t_ns))

    async def deploy(self, version: OmsVersion = OmsVersion.V1_4_3) -> None:
        await self.feed(DeployRequested(t_ns=self.now, version=version))

    async def live(self) -> None:
        await self.deploy()
        await self.at(10)
        assert self.deployer.phase is DeployPhase.LIVE

    @property
    def phase(self) -> DeployPhase:
        return self.deployer.phase

    def reasons(self) -> list[DeployReason]:
        return [e.reason for e in self.events]

    def upstream_sets(self) -> list[tuple[str, ...]]:
        return [a.instances for a in self.executor.executed if isinstance(a, SetUpstreams)]
