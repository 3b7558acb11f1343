"""Command line of the cold-standby OMS: parse the flags, then serve until SIGTERM or SIGINT.

Once the HTTP API listens it prints ``READY http=<port>`` on stdout (the bound port, also when
``--http-port 0`` asked for a free one). A start-up failure (a bad flag, a state dir locked by a
live instance, an unreadable journal, a port in use) is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import signal
import sys
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from .desk import Desk
from .journal import Journal, JournalError
from .routes import build_app
from .venue_link import VenueLink, VenueSettings

log = logging.getLogger(__name__)

EXIT_BAD_INPUT = 2
INSTANCE_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}"  # leaves room in a 64-char client order id


@dataclass(frozen=True)
class OmsSettings:
    instance: str
    host: str
    http_port: int
    state_dir: Path
    venue: VenueSettings


def main(argv: Sequence[str] | None = None) -> int:
    settings, log_level = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=log_level,
        format=f"%(asctime)s %(levelname)s {settings.instance} %(name)s: %(message)s",
    )
    try:
        asyncio.run(serve(settings))
    except (JournalError, OSError) as error:
        print(f"oms: error: cannot start: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


def parse_args(argv: Sequence[str] | None) -> tuple[OmsSettings, str]:
    parser = argparse.ArgumentParser(prog="cold_standby_oms", description=__doc__)
    parser.add_argument("--instance", required=True, type=_instance, help="this instance's name (sub_id)")
    parser.add_argument("--host", default="127.0.0.1", help="address of the HTTP API (default 127.0.0.1)")
    parser.add_argument("--http-port", required=True, type=_port, help="HTTP API port (0: a free one)")
    parser.add_argument("--venue-ws", required=True, type=_ws_url, help="the venue's WebSocket API URL")
    parser.add_argument("--account", required=True, help="the venue account")
    parser.add_argument("--api-key", required=True, help="the account's API key")
    parser.add_argument(
        "--state-dir", required=True, type=Path, help="journal directory (the standby is given the same)"
    )
    parser.add_argument(
        "--ack-timeout", type=_positive, default=5.0, metavar="S", help="wait for a venue answer (default 5)"
    )
    parser.add_argument("--log-level", default="INFO", type=str.upper, choices=("DEBUG", "INFO", "WARNING"))
    args = parser.parse_args(argv)
    venue = VenueSettings(
        url=args.venue_ws, account=args.account, api_key=args.api_key, request_timeout_s=args.ack_timeout
    )
    settings = OmsSettings(args.instance, args.host, args.http_port, args.state_dir, venue)
    return settings, str(args.log_level)


AppFactory = Callable[[Desk], web.Application]


async def serve(settings: OmsSettings, app_for: AppFactory = build_app) -> None:
    """Restore from the journal, connect to the venue, serve ``app_for(desk)``; on a signal, close cleanly.

    Another OMS with the same desk and a different HTTP API (examples/acme_oms) passes its own factory.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with AsyncExitStack() as stack:
        journal = stack.enter_context(Journal.open(settings.state_dir, settings.instance))
        link = VenueLink(settings.venue)
        desk = Desk(settings.instance, journal, link)
        desk.restore()
        runner = web.AppRunner(app_for(desk), access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, settings.host, settings.http_port)
        await site.start()
        venue_task = asyncio.create_task(link.run(desk), name="venue-link")
        stack.push_async_callback(_stop_task, venue_task)
        stack.push_async_callback(link.close)
        print(f"READY http={_bound_port(runner)}", flush=True)
        await stop.wait()
        log.info("signal received: draining, closing the venue session, exiting")
        desk.drain()


async def _stop_task(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _bound_port(runner: web.AppRunner) -> int:
    return next(int(address[1]) for address in runner.addresses if isinstance(address, tuple))


def _instance(text: str) -> str:
    if not re.fullmatch(INSTANCE_PATTERN, text):
        raise argparse.ArgumentTypeError(f"{text!r}: 1-40 letters, digits, '_', '.', '-'")
    return text


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535; 0 = a free one)")
    return int(text)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def _ws_url(text: str) -> str:
    if not text.startswith(("ws://", "wss://")):
        raise argparse.ArgumentTypeError(f"{text!r}: expected ws://HOST:PORT/ or wss://...")
    return text
