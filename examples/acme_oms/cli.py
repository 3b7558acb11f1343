"""Command line of the Acme OMS: the cold-standby OMS's flags plus ``--admin-key``; serve until SIGTERM.

Prints ``READY http=<port>`` once the API listens. Start-up failures are one line on stderr, exit 2
(as the cold-standby OMS's).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from contextlib import AsyncExitStack

from aiohttp import web
from cold_standby_oms.cli import EXIT_BAD_INPUT, OmsSettings, _bound_port, _stop_task, parse_args
from cold_standby_oms.desk import Desk
from cold_standby_oms.journal import Journal, JournalError
from cold_standby_oms.venue_link import VenueLink

from .api import AcmeApi

log = logging.getLogger(__name__)
ADMIN_KEY_ENV = "ACME_ADMIN_KEY"


def main(argv: Sequence[str] | None = None) -> int:
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--admin-key-env", default=ADMIN_KEY_ENV, metavar="VAR",
                       help=f"the environment variable holding the admin key (default {ADMIN_KEY_ENV}; "
                            f"unset: every admin call is refused)")
    known, rest = extra.parse_known_args(argv)
    settings, log_level = parse_args(rest)
    logging.basicConfig(stream=sys.stderr, level=log_level,
                        format=f"%(asctime)s %(levelname)s acme {settings.instance} %(name)s: %(message)s")
    try:
        asyncio.run(serve(settings, os.environ.get(known.admin_key_env) or None))
    except (JournalError, OSError) as error:
        print(f"acme-oms: error: cannot start: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


async def serve(settings: OmsSettings, admin_key: str | None) -> None:
    """The cold-standby OMS's start-up (journal, venue session), with Acme's API in front."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with AsyncExitStack() as stack:
        journal = stack.enter_context(Journal.open(settings.state_dir, settings.instance))
        link = VenueLink(settings.venue)
        desk = Desk(settings.instance, journal, link)
        desk.restore()
        runner = web.AppRunner(AcmeApi(desk, admin_key).app(), access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        await web.TCPSite(runner, settings.host, settings.http_port).start()
        venue_task = asyncio.create_task(link.run(desk), name="venue-link")
        stack.push_async_callback(_stop_task, venue_task)
        stack.push_async_callback(link.close)
        print(f"READY http={_bound_port(runner)}", flush=True)
        await stop.wait()
        log.info("signal received: draining, closing the venue session, exiting")
        desk.drain()
