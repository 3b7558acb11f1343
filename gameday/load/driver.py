"""The load child's work: a locustfile run through locust's library API, on a schedule the harness
gives, its statistics written each second (:mod:`gameday.load.config` describes the exchange).

Locust is driven the way its docs show for library use: an :class:`~locust.env.Environment` with
the locustfile's user classes (and its load shape, or the scenario's stages), a local runner, and
optionally the web UI, on 127.0.0.1. The locustfile's own event listeners (``locust.events``) are
the environment's events, so a user's locustfile runs unchanged. Every request locust reports is
counted into the current second (:class:`~gameday.load.stats.StatsWindow`); at each second of the
schedule the second is written to the statistics file.

Only :mod:`gameday.load.child` imports this, after locust has patched the standard library.
"""

from __future__ import annotations

import logging
import random
import signal
import sys
import time
from pathlib import Path
from typing import IO, Any

import gevent
from gevent.event import Event
from gevent.fileobject import FileObjectPosix
from locust import LoadTestShape, events
from locust.env import Environment
from locust.runners import Runner
from locust.util.load_locustfile import load_locustfile
from locust.web import WebUI

from gameday.load.config import ChildConfig, Schedule, Stage, StatsLine
from gameday.load.stats import START_F, STATS_F, STOP_F, StatsWindow

__all__ = ["StagesShape", "main"]

_log = logging.getLogger("gameday.load")
WEB_UI_HOST = "127.0.0.1"
SECOND_NS = 1_000_000_000


class StagesShape(LoadTestShape):
    """The scenario's ``shape``: each stage's users (at its spawn rate) for its duration, in turn;
    then ``None``, and locust stops the users."""

    abstract = False

    def __init__(self, stages: tuple[Stage, ...]) -> None:
        super().__init__()
        self._stages = stages

    def tick(self) -> tuple[int, float] | None:
        elapsed = self.get_run_time()
        for stage in self._stages:
            if elapsed < stage.duration_s:
                return stage.users, stage.spawn_rate
            elapsed -= stage.duration_s
        return None


class Recorder:
    """Counts every request locust reports into the current second; writes the statistics file."""

    def __init__(self, env: Environment, out: IO[str]) -> None:
        self._env = env
        self._out = out
        self._window = StatsWindow()
        self._second_from_ns = time.monotonic_ns()
        self.user_errors = 0
        env.events.request.add_listener(self._request)
        env.events.user_error.add_listener(self._user_error)

    def _request(self, request_type: str, name: str, response_time: float | None,
                 exception: BaseException | None = None, **_: Any) -> None:
        error = None if exception is None else f"{type(exception).__name__}({exception})"
        self._window.record(f"{request_type} {name}", response_time or 0.0, error)

    def _user_error(self, **_: Any) -> None:
        self.user_errors += 1

    def write(self, f: str, value: dict[str, Any], t_ns: int | None = None) -> None:
        self._out.write(StatsLine(f, time.monotonic_ns() if t_ns is None else t_ns, value).line())
        self._out.flush()

    def begin(self, t_ns: int) -> None:
        self._second_from_ns = t_ns

    def flush(self, *, always: bool) -> None:
        """Write the second that just ended (an empty one only when ``always``)."""
        now = time.monotonic_ns()
        runner = self._env.runner
        users = runner.user_count if runner is not None else 0
        if always or not self._window.empty or users:
            self.write(STATS_F, self._window.flush(self._second_from_ns, users), now)
        self._second_from_ns = now

    def totals(self) -> dict[str, Any]:
        """Locust's own totals, as its web UI and CSV show them."""
        stats = self._env.stats
        endpoints = {f"{entry.method} {entry.name}": _entry(entry) for entry in stats.entries.values()}
        runner = self._env.runner
        return {**_entry(stats.total), "endpoints": endpoints, "user_errors": self.user_errors,
                "task_exceptions": sum(row["count"] for row in runner.exceptions.values()) if runner else 0,
                "cpu_s": round(time.process_time(), 3)}  # what the load child has cost so far


def _entry(entry: Any) -> dict[str, Any]:
    requests = entry.num_requests
    return {"requests": requests, "failures": entry.num_failures,
            "avg_ms": round(entry.avg_response_time, 2) if requests else None,
            "p50_ms": entry.get_response_time_percentile(0.5) if requests else None,
            "p99_ms": entry.get_response_time_percentile(0.99) if requests else None,
            "max_ms": round(entry.max_response_time, 2) if requests else None}


def _sleep_until(t_ns: int, stopping: Event) -> bool:
    """Sleep until ``t_ns``; ``False`` when told to stop first."""
    return not stopping.wait(max(0.0, (t_ns - time.monotonic_ns()) / 1e9))


def _tick(recorder: Recorder, start_ns: int, stop_ns: int, stopping: Event) -> None:
    """Write a second at each whole second from ``start_ns``: every one inside the schedule, the
    later ones only when they saw requests (the web UI may start the users again)."""
    number = 1
    while _sleep_until(start_ns + number * SECOND_NS, stopping):
        recorder.flush(always=start_ns + number * SECOND_NS <= stop_ns)
        number += 1


def _watch_stdin(stdin: FileObjectPosix, stopping: Event) -> None:
    """The harness closing our stdin (it died, or is done with us) stops the load."""
    while stdin.readline():
        pass
    stopping.set()


def _web_ui_port(web_ui: WebUI) -> int:
    for _ in range(500):
        server = web_ui.server
        if server is not None and server.server_port:
            return int(server.server_port)
        gevent.sleep(0.01)
    raise RuntimeError("locust's web UI did not start listening")


def _environment(config: ChildConfig) -> Environment:
    user_classes, shapes = load_locustfile(config.locustfile)
    if not user_classes:
        raise SystemExit(f"{config.locustfile} defines no locust User class")
    # no stages: a LoadTestShape the locustfile defines runs, as locust itself would run it
    shape: LoadTestShape | None = StagesShape(config.stages) if config.stages else \
        (shapes[0] if shapes else None)
    return Environment(user_classes=list(user_classes.values()), shape_class=shape, host=config.host,
                       events=events, locustfile=config.locustfile)


def _start_users(env: Environment, runner: Runner, config: ChildConfig) -> None:
    if env.shape_class is not None:
        runner.start_shape()
    else:
        runner.start(config.users, config.spawn_rate)


def _schedule(stdin: FileObjectPosix, stopping: Event) -> Schedule | None:
    """The harness's schedule line; ``None`` when it went away (or stopped us) before sending one."""
    reader = gevent.spawn(stdin.readline)
    gevent.wait([reader, stopping], count=1)
    if stopping.is_set() or not reader.successful() or not reader.value:
        reader.kill()
        return None
    return Schedule.parse(reader.value)


def _drive(env: Environment, config: ChildConfig, schedule: Schedule, recorder: Recorder,
           stopping: Event, web_ui: str | None) -> None:
    """Start the users at the schedule's start, stop them at its end (or when told), record them."""
    runner = env.runner
    assert runner is not None
    if not _sleep_until(schedule.start_ns, stopping):
        return
    recorder.begin(schedule.start_ns)
    recorder.write(START_F, {"host": config.host, "users": config.users, "spawn_rate": config.spawn_rate,
                             "shape": type(env.shape_class).__name__ if env.shape_class else None,
                             "user_classes": sorted(cls.__name__ for cls in env.user_classes),
                             "web_ui": web_ui})
    _start_users(env, runner, config)
    ticker = gevent.spawn(_tick, recorder, schedule.start_ns, schedule.stop_ns, stopping)
    ended = _sleep_until(schedule.stop_ns, stopping)
    runner.stop()
    recorder.flush(always=False)
    recorder.write(STOP_F, {"reason": "until" if ended else "stopped", **recorder.totals()})
    stopping.wait()  # the web UI stays up (and the lead may start users again) until the harness is done
    ticker.kill()
    runner.quit()
    recorder.flush(always=False)


def run(config: ChildConfig, schedule_in: IO[bytes], ready_out: IO[str]) -> None:
    """Build the environment, announce READY, read the schedule, drive the users, record them."""
    random.seed(f"load:{config.seed}")
    env = _environment(config)
    runner = env.create_local_runner()
    stopping = Event()
    gevent.signal_handler(signal.SIGTERM, stopping.set)
    web_ui = env.create_web_ui(WEB_UI_HOST, 0) if config.web_ui else None
    events.init.fire(environment=env, runner=runner, web_ui=web_ui)
    port = _web_ui_port(web_ui) if web_ui is not None else None
    ready_out.write("READY" + (f" web={port}" if port else "") + "\n")
    ready_out.flush()
    stdin = FileObjectPosix(schedule_in.fileno(), "rb", close=False)
    schedule = _schedule(stdin, stopping)
    if schedule is not None:
        gevent.spawn(_watch_stdin, stdin, stopping)
        with Path(config.stats_path).open("a", encoding="utf-8") as out:
            _drive(env, config, schedule, Recorder(env, out), stopping,
                   f"http://{WEB_UI_HOST}:{port}" if port else None)
    if web_ui is not None:
        web_ui.stop()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m gameday.load.child CONFIG.json")
    run(ChildConfig.read(Path(args[0])), sys.stdin.buffer, sys.stdout)
