"""Command line of the Acme OMS: the cold-standby OMS's flags plus ``--admin-key``; serve until SIGTERM.

Prints ``READY http=<port>`` once the API listens. Start-up failures are one line on stderr, exit 2
(as the cold-standby OMS's).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from cold_standby_oms.cli import EXIT_BAD_INPUT, parse_args, serve
from cold_standby_oms.journal import JournalError

from .api import AcmeApi

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
        admin_key = os.environ.get(known.admin_key_env) or None
        asyncio.run(serve(settings, lambda desk: AcmeApi(desk, admin_key).app()))
    except (JournalError, OSError) as error:
        print(f"acme-oms: error: cannot start: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0
