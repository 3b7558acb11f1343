"""The venue a contract check reads: the target file's running one (``venue.admin_url``), or ours,
started for the check alone when the file asks the harness to run it (``venue.run``).

Ours is started as a run starts it (:class:`gameday.stack.run_venue.RunVenue`: the file's ports and
sessions, loopback only, a fresh admin token) with its configuration, log and ledger in a temporary
directory, and stopped (the directory removed) when the check ends, however it ends. The check then
gives the OMS the time a run gives it (the stack start timeout) to reconnect to the fresh venue and
be active; if none is, the checks say so (``stack.active``).
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from gameday.probes import sample_until_active
from gameday.stack.run_venue import RunVenue
from gameday.stack.rundir import RunDir
from gameday.stack.settings import StackSettings
from gameday.target_file import TargetFile

__all__ = ["VENUE_SEED", "CheckedVenue", "venue_for_check"]

VENUE_SEED = 1
"""The seed of the venue a check starts (its prices and fills): every check of a file sees the same."""
RUN_DIR_NAME = "contract-check"


@dataclass(frozen=True)
class CheckedVenue:
    admin_url: str
    token: str | None
    """The bearer token of its admin API, if it has one."""
    started: bool
    """Whether the check started it (``venue.run``)."""


@asynccontextmanager
async def venue_for_check(target: TargetFile, session: aiohttp.ClientSession, *, token: str | None,
                          symbol: str) -> AsyncIterator[CheckedVenue]:
    """The target's venue for the block. ``token``: the admin token of a running venue (ours gets a
    fresh one); ``symbol``: the one the round trips trade, listed on ours unless the file names its
    symbols. Raises :class:`gameday.errors.StackError` when ours does not start (its log's tail)."""
    spec = target.venue.run
    if spec is None:
        assert target.venue.admin_url is not None  # the target file has one of the two
        yield CheckedVenue(target.venue.admin_url.rstrip("/"), token, started=False)
        return
    own_token = secrets.token_urlsafe(18)
    with tempfile.TemporaryDirectory(prefix="gameday-contract-") as scratch:
        settings = StackSettings(run_dir=RunDir(Path(scratch), RUN_DIR_NAME, scratch_root=None),
                                 seed=VENUE_SEED, symbols=(symbol,))
        async with RunVenue(spec, settings, admin_token=own_token).serving(session) as admin_url:
            await sample_until_active(session, target.oms.instances, settings.start_timeout_s,
                                      api=target.oms_api)
            yield CheckedVenue(admin_url, own_token, started=True)
