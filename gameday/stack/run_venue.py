"""Our venue, run by the harness for a stack it did not start (a target file's ``venue.run``).

The user's OMS is configured to reach a venue on fixed ports; for each run the harness starts
``python -m mock_exchange --config <run-dir>/stack/venue.json`` on those ports, with the ledger in the
run directory, a fresh admin token (the ledger reads and exchange faults send it) and the scenario's
seed, registers it in the run's process registry (a harness killed with SIGKILL takes it along by
its parent-death signal, and the next run's reaper stops it if it survived), and stops it when the
run ends, whatever happens. The OMS reconnects to the fresh venue on its own: the stack waits for an
active, deep-healthy instance only once the venue serves.

:func:`check_venue_run` is what ``load_target_file`` checks before anything runs; :func:`venue_config`
what a run starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import socket
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from pydantic import ValidationError

from gameday.loopback import is_loopback_host
from gameday.stack.errors import StackError
from gameday.stack.process import ManagedProcess, ProcessSpec, start_process, wait_until
from gameday.stack.rundir import ProcessRegistry
from gameday.stack.services import http_ok, write_config
from gameday.stack.settings import StackSettings
from gameday.workload import reference_price
from mock_exchange.config import SessionConfig, SymbolConfig, VenueConfig

if TYPE_CHECKING:  # the target file model reads this module only when a file has venue.run
    from gameday.target_file import VenueRunSpec

__all__ = ["PROCESS_NAME", "RunVenue", "VenueRunError", "check_venue_run", "read_venue_config",
           "venue_config"]

PROCESS_NAME = "venue"
"""The venue's name in the run's process registry and its log (``<run-dir>/stack/venue.log``)."""
LEDGER_FILE = "ledger.jsonl"
MAX_CONFIG_BYTES = 1 << 20
TOKEN_ENV = "MOCKEX_ADMIN_TOKEN"
"""The venue prefers this variable to its config's token: never passed on to the venue the harness runs."""
_PLACEHOLDER_LEDGER = Path(LEDGER_FILE)
_PLACEHOLDER_SYMBOLS = ("BTC-USD",)


class VenueRunError(ValueError):
    """What is wrong with ``venue.run``; ``where`` is the YAML path below ``venue.run``."""

    def __init__(self, where: Sequence[str], message: str) -> None:
        super().__init__(message)
        self.where = tuple(where)


def read_venue_config(path: Path) -> dict[str, Any]:
    """``venue.run.config``: one ``mock_exchange`` VenueConfig as JSON (its fields, not yet checked)."""
    expected = "expected a mock_exchange VenueConfig JSON file (relative to the target file)"
    try:
        with path.open("rb") as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise VenueRunError(("config",), f"{expected}, got {str(path)!r}: {error.strerror}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise VenueRunError(("config",), f"{expected}, got {path}: more than {MAX_CONFIG_BYTES} bytes")
    try:
        config = json.loads(data)
    except ValueError as error:
        raise VenueRunError(("config",), f"{expected}, got {path}: not JSON ({error})") from None
    if not isinstance(config, dict) or "venues" in config:
        got = "several venues" if isinstance(config, dict) else f"a JSON {type(config).__name__}"
        raise VenueRunError(("config",), f"expected one venue's VenueConfig (a JSON object), got {path}: "
                                         f"{got}")
    return config


def _symbol(entry: str | SymbolConfig) -> dict[str, Any]:
    if isinstance(entry, str):
        return {"symbol": entry, "start_price": reference_price(entry)}
    return entry.model_dump()


def venue_config(spec: VenueRunSpec, *, ledger_path: Path, admin_token: str, seed: int,
                 symbols: Sequence[str]) -> VenueConfig:
    """The venue a run starts: ``spec.config``'s fields, the ones ``spec`` (a ``VenueRunSpec``) gives
    instead, and the harness's own ledger, token and seed; ``symbols`` (the workload's) when neither
    names any. Raises :class:`VenueRunError` naming what is wrong."""
    merged: dict[str, Any] = {"fix_port": 0, "admin_port": 0, **spec.config_data}
    overrides: dict[str, Any] = {"fix_port": spec.fix_port, "admin_port": spec.admin_port,
                                 "ws_port": spec.ws_port, "accept_any_session": spec.accept_any_session}
    merged.update({key: value for key, value in overrides.items() if value is not None})
    if spec.sessions is not None:
        merged["sessions"] = [SessionConfig(sender_comp_id=name).model_dump() for name in spec.sessions]
    if spec.symbols is not None:
        merged["symbols"] = [_symbol(entry) for entry in spec.symbols]
    elif "symbols" not in merged:
        merged["symbols"] = [_symbol(name) for name in symbols]
    merged.update(ledger_path=str(ledger_path), admin_token=admin_token, seed=seed)
    where = ("config",) if spec.config is not None else ()
    try:
        config = VenueConfig.model_validate(merged)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "the venue"
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        overridden = " with the overrides of venue.run" if where else ""
        raise VenueRunError(where, f"expected a mock_exchange VenueConfig{overridden}, got {field}: "
                                   f"{first['msg']}{more}") from None
    if not is_loopback_host(config.host):
        raise VenueRunError(where, f"expected the venue on loopback (host 127.0.0.1), got host "
                                   f"{config.host!r}: the harness runs it on loopback only")
    if not config.fix_port and not config.ws_port:
        raise VenueRunError(where, "expected fix_port or ws_port: the fixed port your OMS connects to")
    if not (config.sessions or config.accept_any_session or config.ws_accounts):
        raise VenueRunError(where, "expected sessions (the SenderCompIDs your OMS logs on with), "
                                   "accept_any_session: true, or a config with sessions or ws_accounts")
    return config


def check_venue_run(spec: VenueRunSpec) -> None:
    """``spec`` describes a venue the harness can start (ports, sessions, ``config``); else raises."""
    venue_config(spec, ledger_path=_PLACEHOLDER_LEDGER, admin_token="check", seed=0,
                 symbols=_PLACEHOLDER_SYMBOLS)


def fixed_ports(config: VenueConfig) -> dict[str, int]:
    """The ports the venue asks for by number, by the field that names them (0 = any free port)."""
    ports = {"fix_port": config.fix_port, "ws_port": config.ws_port or 0, "admin_port": config.admin_port}
    ports.update({f"feeds[{index}].port": feed.port for index, feed in enumerate(config.feeds)})
    return {field: port for field, port in ports.items() if port}


def refuse_ports_in_use(config: VenueConfig) -> None:
    """Raise :class:`StackError` naming the first fixed port the venue could not listen on."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    for field, port in fixed_ports(config).items():
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the venue's own listeners
            try:
                probe.bind((config.host, port))
            except OSError as error:
                why = "is already in use" if error.errno == errno.EADDRINUSE else \
                    f"cannot be listened on ({error.strerror})"
                raise StackError(f"venue.run.{field}: {config.host}:{port} {why}: the harness cannot start "
                                 f"the venue there (a venue left running? another service?)") from None


class RunVenue:
    """One run's venue: ``async with serving(session) as admin_url``, or ``await start()`` then
    ``await stop()`` always (idempotent)."""

    def __init__(self, spec: VenueRunSpec, settings: StackSettings, admin_token: str) -> None:
        self._spec = spec
        self._settings = settings
        self._admin_token = admin_token
        self._registry = ProcessRegistry(settings.run_dir)
        self._opened = False
        self.process: ManagedProcess | None = None
        self.config: VenueConfig | None = None
        self.admin_url = ""

    @property
    def ledger_path(self) -> Path:
        return self._settings.run_dir.path / LEDGER_FILE

    def _spawned(self, process: ManagedProcess) -> None:
        self.process = process
        self._registry.add(process)

    async def start(self, session: aiohttp.ClientSession) -> str:
        """Start the venue and wait until its admin API answers; its admin URL."""
        run = self._settings.run_dir
        try:
            config = venue_config(self._spec, ledger_path=self.ledger_path, admin_token=self._admin_token,
                                  seed=self._settings.seed, symbols=self._settings.symbols)
        except VenueRunError as error:
            raise StackError(f"venue.run: {error}") from None
        self.config = config
        refuse_ports_in_use(config)
        run.create()
        path = write_config(run.stack / "venue.json", config.model_dump_json(indent=1))  # 0600: the token
        log_path = run.stack / "venue.log"
        self._registry.open()
        self._opened = True
        spec = ProcessSpec(name=PROCESS_NAME, log_path=log_path, ready_line=True,
                           argv=[sys.executable, "-m", "mock_exchange", "--config", str(path)],
                           env={key: value for key, value in os.environ.items() if key != TOKEN_ENV})
        timeout_s = self._settings.start_timeout_s
        process = await start_process(spec, on_spawn=self._spawned, ready_timeout_s=timeout_s)
        host = f"[{config.host}]" if ":" in config.host else config.host
        self.admin_url = f"http://{host}:{process.ports['admin']}"

        async def serving() -> bool:
            return await http_ok(session, f"{self.admin_url}/health")

        await wait_until(PROCESS_NAME, serving, timeout_s=timeout_s, log_path=log_path, process=process)
        return self.admin_url

    @contextlib.asynccontextmanager
    async def serving(self, session: aiohttp.ClientSession) -> AsyncIterator[str]:
        """The venue started (its admin URL) for the block, stopped when it ends however it ends, and
        when it failed to start half way."""
        try:
            yield await self.start(session)
        finally:
            await self.stop()

    async def stop(self) -> None:
        """Stop the venue (SIGTERM, then SIGKILL) and drop the run's registry; safe to call twice."""
        process, self.process = self.process, None
        if process is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(process.stop())
            self._registry.remove(PROCESS_NAME)
        if self._opened:
            self._opened = False
            self._registry.close()

    def describe(self) -> dict[str, Any]:
        """What the run record says of the venue (never its token)."""
        config = self.config
        return {"run": True, "admin_url": self.admin_url, "ledger": str(self.ledger_path),
                "ports": {} if config is None else fixed_ports(config),
                "pid": None if self.process is None else self.process.pid}
