"""``python -m reference_target.serve --target-file staging.yaml``: start the reference stack and keep
it running until SIGTERM or SIGINT, with a target file that describes it.

A stand-in for the staging stack an SRE already runs: ``gameday run --target staging.yaml
scenario.yaml`` then grades it as it would grade any other stack, through the file alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import Any

import yaml

from gameday.scenario.presets import StackPreset
from gameday.stack.reaper import reap_stale_runs
from gameday.stack.rundir import RunDir
from gameday.stack.services import write_config
from gameday.stack.settings import StackSettings
from reference_target.local import LocalStack
from reference_target.target import TARGET


def target_file_of(stack: LocalStack, name: str) -> dict[str, Any]:
    """The target file that reaches ``stack``: its endpoints and admin tokens, its proxies by hop, its
    services' PIDs."""
    assert stack.toxiproxy is not None
    endpoints = stack.endpoints
    return {
        "name": name,
        "oms": {"instances": dict(endpoints.oms), "admin_token": stack.settings.admin_token},
        "venue": {"admin_url": endpoints.venue_admin, "admin_token": endpoints.venue_admin_token},
        "nats": {"url": endpoints.nats},
        "database": {"dsn": endpoints.database_dsn},
        "toxiproxy": {"url": endpoints.toxiproxy, "token": stack.settings.proxy_token,
                      "proxies": {hop: stack.toxiproxy.proxy_name(hop) for hop in endpoints.proxies}},
        "services": {service: {"pid": process.pid} for service, process in stack.processes.items()
                     if service.startswith("oms-") or service in ("failover", "exchange", "nats")},
    }


async def serve(args: argparse.Namespace) -> None:
    reports = args.reports.resolve()
    reap_stale_runs(reports)
    run = RunDir(reports, "served-stack")
    settings = StackSettings(run_dir=run, seed=args.seed, preset=StackPreset(args.preset),
                             symbols=tuple(args.symbols.split(",")), defects=tuple(args.defect))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with LocalStack(settings) as stack:
        partial = args.target_file.with_suffix(".partial")
        # it holds the run's admin tokens: readable by its owner only
        write_config(partial, yaml.safe_dump(target_file_of(stack, args.name), sort_keys=False))
        partial.replace(args.target_file)  # a reader never sees half a file
        print(f"READY target={args.target_file}", flush=True)
        await stop.wait()
    with contextlib.suppress(OSError):
        args.target_file.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reference_target.serve", description=__doc__)
    parser.add_argument("--target-file", type=Path, required=True, help="where to write the target file")
    parser.add_argument("--name", default="reference-staging")
    parser.add_argument("--preset", default=StackPreset.ACTIVE_PASSIVE.value,
                        choices=[StackPreset.ACTIVE_PASSIVE.value])
    parser.add_argument("--symbols", default="BTC-USD,ETH-USD")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--defect", action="append", default=[], choices=sorted(TARGET.defects),
                        help="serve the stack with a known defect switched on (repeatable)")
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    asyncio.run(serve(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
