"""A run: load → start stack → probes and workload → timeline → heal → final probes → grade → report.

Results are saved in phases: the scenario and run record first, the history as it happens, the
graded results last, so a stored run can be re-graded offline (``gameday analyze``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from gameday.faults.nemesis import Nemesis
from gameday.faults.schedule import plan
from gameday.history import HISTORY_FILE, RUN_PHASE_F, History, Op, OpKind, OpType, RunPhase, read_history
from gameday.load.run import NO_LOAD, LoadPlan, LoadRun, NoLoad
from gameday.metrics.scraper import metrics_probe, venue_headers
from gameday.operator import Operator, operator_endpoints
from gameday.probes import (
    QUIET_WINDOW_S,
    capture_database,
    capture_final_state,
    health_probe,
    trade_probe,
    wait_for_active,
)
from gameday.proxied_door import ProxiedDoor
from gameday.recorder import NatsRecorder
from gameday.report.files import write_reports
from gameday.report.renderer import DONE, PendingReports, PlottingWarmup, render_in_background, write_readable
from gameday.scenario import Scenario, load_scenario
from gameday.scenario.deploy_spec import DeploymentSpec
from gameday.scenario.model import Routing
from gameday.service_logs import collect_logs
from gameday.stack.compose import reap_compose_projects
from gameday.stack.external import ExternalStack
from gameday.stack.protocol import Stack
from gameday.stack.reaper import reap_stale_runs
from gameday.stack.rundir import RunDir
from gameday.stack.settings import StackSettings
from gameday.starvation import StarvationSampler
from gameday.stop import Crossing, StopTrigger, until_stopped
from gameday.target import DEFAULT_TARGET, load_target
from gameday.target_file import TargetFile
from gameday.venue_reads import VenueReader
from gameday.verdict import RunResult, RunStatus, grade_run, interrupted_run
from gameday.workload import (
    Broadcast,
    Burst,
    FrontDoor,
    ScheduledOrder,
    Strategy,
    drive_workload,
    workload_flow,
)

Progress = Callable[[str], None]
RECORDED_PREFIXES = ("deploy", "frontdoor")
"""Subjects recorded beside the OMS's own: the deployer's timeline and the front door's routes."""
SCENARIO_FILE = "scenario.yaml"
TRADE_PROBE_DRAIN_S = 5.0
"""How long a trade probe under way at the end of the run may take to cancel its order."""


class RunWatcher(Protocol):
    """Follows a run as it happens (the CLI's live console, :class:`gameday.report.live.LiveConsole`);
    a run without one prints nothing."""

    def progress(self, line: str) -> None: ...

    def observe(self, op: Op) -> None: ...

    def finished(self, result: RunResult, ops: Sequence[Op], run_dir: Path) -> None: ...


@dataclass(frozen=True)
class RunSettings:
    reports_root: Path
    extra_defects: tuple[str, ...] = ()
    toxiproxy_url: str | None = None
    settle_timeout_s: float = 15.0
    lead_in_s: float = 0.2
    run_timeout_margin_s: float = 120.0
    stress: int = 0  # CPU burners beside the run (started by the caller; recorded in the history)
    target: str = DEFAULT_TARGET  # the installed target whose stack the run starts
    target_file: TargetFile | None = None  # a stack already running: attach to it, start nothing
    allow_remote: bool = False  # the target file may name endpoints off loopback (recorded in run.json)
    admin_token: str | None = None  # the target file's admin token
    backend: str | None = None  # how the target starts its stack ("embedded", "compose"); else the scenario's
    load_ui: bool = False  # serve locust's web UI on 127.0.0.1 while the scenario's load runs
    reports_in_background: bool = False  # return before report.html is written: the caller waits
    # for RunOutcome.reports (the CLI prints the verdict first)


@dataclass(frozen=True)
class RunOutcome:
    result: RunResult
    run_dir: Path
    error: str | None = None
    reports: PendingReports = DONE
    """The readable reports; written by the time ``run_scenario`` returns unless the run's settings
    say ``reports_in_background`` (then :meth:`PendingReports.wait` for them)."""


def _client_door(routing: Routing, stack: Stack, session: aiohttp.ClientSession) -> FrontDoor | Broadcast:
    """How the workload reaches the OMS: as the probes do, or every order to every instance."""
    if routing is Routing.BROADCAST:
        return Broadcast.to_instances(stack.endpoints.oms, session, api=stack.endpoints.oms_api)
    return _probe_door(routing, stack, session, probe=False)


def _probe_door(routing: Routing, stack: Stack, session: aiohttp.ClientSession, *,
                probe: bool = True) -> FrontDoor:
    """How clients reach the OMS: through the stack's front-door proxy, or picking an instance."""
    if routing is Routing.FRONT_DOOR and stack.endpoints.front_door is not None:
        return ProxiedDoor(stack.endpoints.front_door, session)
    return FrontDoor(stack.endpoints.oms, session, spread=routing is Routing.SPREAD and not probe,
                     api=stack.endpoints.oms_api)


def _stack_for(settings: RunSettings, stack_settings: StackSettings) -> Stack:
    if settings.target_file is not None:
        return ExternalStack(settings.target_file, stack_settings, admin_token=settings.admin_token)
    return load_target(settings.target).stack(stack_settings)


def _defects(scenario: Scenario, settings: RunSettings) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*scenario.stack.defects, *settings.extra_defects)))


def _phase(history: History, phase: RunPhase, **value: Any) -> None:
    history.append(OpKind.RUN, OpType.INFO, "runner", RUN_PHASE_F, {"phase": phase.value, **value})


def _load(load: LoadPlan | None, stack: Stack, history: History, settings: RunSettings,
          progress: Progress) -> LoadRun | NoLoad:
    """The scenario's locust load (its own child process), or nothing."""
    if load is None:
        return NO_LOAD
    return LoadRun(load, history, stack.settings.run_dir, stack.endpoints, web_ui=settings.load_ui,
                   allow_remote=settings.allow_remote, progress=progress)


async def _play(scenario: Scenario, stack: Stack, history: History, session: aiohttp.ClientSession,
                settings: RunSettings, load: LoadPlan | None = None, progress: Progress = lambda line: None,
                warmup: PlottingWarmup | None = None) -> Crossing | None:
    """The run from the workload's start to the final state; a crossed stop line, if one was.
    ``warmup`` starts once the workload is over: the capture and stop mostly wait on others."""
    async with _load(load, stack, history, settings, progress) as locust:
        started_ns = time.monotonic_ns() + int(settings.lead_in_s * 1e9)
        locust.begin(started_ns)
        crossing = await _drive(scenario, stack, history, session, settings, started_ns)
    if warmup is not None:
        warmup.start()
    await _capture(stack, history, session)
    await asyncio.to_thread(collect_logs, stack.endpoints.logs, stack.settings.run_dir.path)
    return crossing


async def _capture(stack: Stack, history: History, session: aiohttp.ClientSession) -> None:
    """The final state and the database, with the venue's matching stopped meanwhile (where it can be)."""
    endpoints = stack.endpoints
    venue = VenueReader(session, endpoints.venue_admin, endpoints.venue_admin_token)
    async with venue.matching_stopped() as (matching, detail):
        _phase(history, RunPhase.CAPTURE, venue_matching=matching.value,
               **({"detail": detail} if detail else {}))
        # Reports cross the WAN to a DR in another region: the venue must stay quiet for a round trip more.
        quiet_s = QUIET_WINDOW_S + stack.settings.cross_region_rtt_ms / 1000
        await capture_final_state(session, endpoints.oms, endpoints.venue_admin, history, quiet_s=quiet_s,
                                  venue_admin_token=endpoints.venue_admin_token, api=endpoints.oms_api)
        if endpoints.database_dsn:
            await capture_database(endpoints.database_dsn, history, session=session, oms_urls=endpoints.oms,
                                   api=endpoints.oms_api)


async def _drive(scenario: Scenario, stack: Stack, history: History, session: aiohttp.ClientSession,
                 settings: RunSettings, started_ns: int) -> Crossing | None:
    """Workload, timeline and actions from ``started_ns``, the probes beside them; then heal and settle.

    A stop line crossed (``stop_when``) cancels the timeline; the faults are healed, then the scenario's
    safety steps run; the crossing is returned."""
    workload = scenario.workload
    door = _client_door(workload.routing, stack, session)
    flow = workload_flow(scenario.seed, workload.orders_per_second, workload.duration.seconds,
                         workload.symbols, workload.market_order_ratio,
                         [Burst(b.at.seconds, b.duration.seconds, b.orders_per_second, b.market_order_ratio)
                          for b in workload.bursts],
                         strategy=None if workload.strategy is None
                         else Strategy(workload.strategy.side.value, workload.strategy.max_lots))
    nemesis = Nemesis(stack, history)
    operator = Operator(session, operator_endpoints(stack), stack.settings.admin_token, history)
    _phase(history, RunPhase.WORKLOAD, starts_ns=started_ns, duration_s=workload.duration.seconds,
           orders=len(flow), faults=len(scenario.timeline), actions=len(scenario.actions))
    trade_probe_stop = asyncio.Event()
    probes = [
        asyncio.create_task(trade_probe(_probe_door(workload.routing, stack, session), history,
                                        workload.symbols, scenario.probes.trade_interval.seconds,
                                        trade_probe_stop)),
        asyncio.create_task(health_probe(session, stack.endpoints.oms, history,
                                         scenario.probes.health_interval.seconds,
                                         api=stack.endpoints.oms_api)),
        asyncio.create_task(metrics_probe(
            session, stack.endpoints.metrics, history, scenario.probes.health_interval.seconds,
            scenario.metric_families, venue_headers(stack.endpoints.metrics, stack.endpoints.venue_admin,
                                                    stack.endpoints.venue_admin_token))),
    ]
    trigger = None if scenario.stop_when is None else StopTrigger(scenario.stop_when, history)
    try:
        timeline = _timeline(scenario, flow, door, history, nemesis, operator, started_ns)
        await (timeline if trigger is None else until_stopped(timeline, trigger.stopped))
    finally:
        _phase(history, RunPhase.HEAL)
        await asyncio.shield(nemesis.heal_all())
        crossing = None if trigger is None else trigger.close()
        if crossing is not None and scenario.safety:
            await asyncio.shield(operator.safety(scenario.safety, crossing.reason))
        _phase(history, RunPhase.SETTLE, timeout_s=settings.settle_timeout_s,
               instances=list(stack.endpoints.oms))
        settling = time.monotonic()
        active = await wait_for_active(session, stack.endpoints.oms, settings.settle_timeout_s,
                                       api=stack.endpoints.oms_api)
        _phase(history, RunPhase.SETTLED, active=active, waited_s=round(time.monotonic() - settling, 3))
        trade_probe_stop.set()  # its order under way is cancelled before the final state is read
        await asyncio.wait(probes[:1], timeout=TRADE_PROBE_DRAIN_S)
        for probe in probes:
            probe.cancel()
        await asyncio.gather(*probes, return_exceptions=True)
    return crossing


async def _timeline(scenario: Scenario, flow: Iterable[ScheduledOrder], door: FrontDoor | Broadcast,
                    history: History,
                    nemesis: Nemesis, operator: Operator, started_ns: int) -> None:
    """The workload, the faults and the operator's actions, each from ``started_ns``."""
    async with asyncio.TaskGroup() as group:
        group.create_task(drive_workload(flow, door, history, started_ns=started_ns))
        group.create_task(nemesis.play(plan(scenario.timeline), started_ns))
        group.create_task(operator.play(scenario.actions, started_ns))


async def run_scenario(scenario: Scenario, scenario_path: Path, settings: RunSettings,
                       progress: Progress = lambda line: None, live: RunWatcher | None = None) -> RunOutcome:
    """``progress`` gets the runner's own lines; ``live``, when given, those and every op as it is
    recorded, then the graded result."""
    if live is not None:
        progress = _both(progress, live.progress)
    for project in reap_compose_projects(settings.reports_root):
        progress(f"took down compose project {project} of a killed run")
    for reaped in reap_stale_runs(settings.reports_root):
        killed = ", ".join(reaped.killed) or "no live process"
        proxies = f"; {len(reaped.proxies)} of its proxies deleted" if reaped.proxies else ""
        refused = f"; not deleted: {'; '.join(reaped.refused)}" if reaped.refused else ""
        progress(f"reaped a killed run {reaped.run_dir}: {killed}{proxies}{refused}")
    run = RunDir(settings.reports_root, scenario.name)
    run.create()
    defects = _defects(scenario, settings)
    shutil.copyfile(scenario_path, run.path / SCENARIO_FILE)
    (run.path / "run.json").write_text(json.dumps({
        "run_id": run.run_id, "scenario": scenario.name, "seed": scenario.seed,
        "defects": list(defects), "argv": sys.argv,
        "target": settings.target_file.name if settings.target_file else settings.target,
        "allow_remote": settings.allow_remote,
    }, indent=1))
    history = History(run.path / HISTORY_FILE, observers=() if live is None else (live.observe,))
    error: str | None = None
    status = RunStatus.COMPLETED
    warmup = PlottingWarmup()
    regions = scenario.stack.regions
    stack_settings = StackSettings(run_dir=run, seed=scenario.seed, symbols=tuple(scenario.workload.symbols),
                                   preset=scenario.stack.preset, deployment=DeploymentSpec.of(scenario.stack),
                                   defects=defects, toxiproxy_url=settings.toxiproxy_url,
                                   cross_region_rtt_ms=regions.rtt_ms if regions else 0,
                                   initial_roles=dict(scenario.stack.initial_roles),
                                   backend=settings.backend or scenario.stack.backend or "embedded")
    budget_s = scenario.workload.duration.seconds + settings.run_timeout_margin_s
    progress(f"run {run.run_id} (seed {scenario.seed}) in {run.path}")
    if settings.load_ui and scenario.load is None:
        progress("--load-ui: the scenario has no load: section; no web UI to serve")
    try:
        load = LoadPlan.of(scenario, scenario_path)
        stack = _stack_for(settings, stack_settings)
        # recording starts once NATS is up, before the OMS and daemons publish their first state
        stack.observe_nats(lambda url: NatsRecorder(url, history, extra_prefixes=RECORDED_PREFIXES))
        async with StarvationSampler(history, stress=settings.stress), asyncio.timeout(budget_s), stack, \
                aiohttp.ClientSession() as session:
            progress(f"stack healthy in {stack.started_in_s:.2f}s")
            history.append(OpKind.RUN, OpType.INFO, "runner", "start", {
                "run_id": run.run_id, "scenario": scenario.name, "seed": scenario.seed,
                "defects": list(defects), **stack.describe()})
            crossing = await _play(scenario, stack, history, session, settings, load, progress, warmup)
        if crossing is not None:
            status, error = RunStatus.ABORTED, crossing.reason
    except TimeoutError:
        status, error = RunStatus.ABORTED, f"the run exceeded its budget of {budget_s:.0f}s"
    except (asyncio.CancelledError, KeyboardInterrupt):
        history.append(OpKind.RUN, OpType.INFO, "runner", "end",
                       {"status": RunStatus.INTERRUPTED.value, "error": "interrupted"})
        history.close()
        try:  # CI still gets a results.json and a junit.xml (ungraded); nothing here masks the interrupt
            write_reports(interrupted_run(scenario, history.ops, run_id=run.run_id), run.path)
        except Exception as failure:
            progress(f"junit.xml not written: {describe_failure(failure)}")
        raise
    except Exception as failure:
        status, error = RunStatus.ABORTED, describe_failure(failure)
    finally:  # the run made it (RunDir.create), whatever stack ran or failed to start
        shutil.rmtree(run.scratch, ignore_errors=True)
    history.append(OpKind.RUN, OpType.INFO, "runner", "end",
                   {"status": status.value, **({"error": error} if error else {})})
    history.close()
    result = grade_run(scenario, history.ops)
    write_reports(result, run.path)
    reports = render_in_background(result, history.ops, run.path, progress, warmup)
    if live is not None:
        try:  # the graded run is written: a console that fails here costs nothing more
            live.finished(result, history.ops, run.path)
        except Exception as failure:
            progress(f"live console: {describe_failure(failure)}")
    if not settings.reports_in_background:
        reports.wait()
    return RunOutcome(result=result, run_dir=run.path, error=error, reports=reports)


def _both(first: Progress, second: Progress) -> Progress:
    def both(line: str) -> None:
        first(line)
        second(line)

    return both


def describe_failure(failure: BaseException) -> str:
    """What went wrong, with the leaves of an exception group spelled out (not "1 sub-exception")."""
    if isinstance(failure, BaseExceptionGroup):
        return "; ".join(describe_failure(inner) for inner in failure.exceptions)
    return f"{type(failure).__name__}: {failure}"


def analyze_run(run_dir: Path) -> RunResult:
    """Re-grade a stored run from its history alone; starts nothing."""
    scenario = load_scenario(run_dir / SCENARIO_FILE, check_files=False)
    ops = read_history(run_dir / HISTORY_FILE)
    result = grade_run(scenario, ops)
    with contextlib.suppress(OSError):
        write_reports(result, run_dir)
    write_readable(result, ops, run_dir, lambda line: None)
    return result

