"""Mock FIX 4.4 / WebSocket venue (gameday exchange, python -m mock_exchange).

Either venue flags (one venue) or --config FILE (a VenueConfig JSON, or {"venues": [...]} for
several venues in one process). Serves until SIGINT/SIGTERM, then exits 0. Once serving it
prints "READY fix=<port> [ws=<port>] admin=<port>" on stdout ("<venue>_fix=<port> ..." for each
venue when there are several). Anything it cannot start with (a bad flag, an unreadable config,
a port in use, a corrupt ledger) is one line on stderr and exit code 2, never a traceback.

The admin API takes a bearer token (docs/contracts.md §3) from --admin-token-file, else the
MOCKEX_ADMIN_TOKEN environment variable, else the config's admin_token (each venue's own); with
none it is open. The token is never a flag of its own: a command line is visible to every user.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import ipaddress
import json
import logging
import math
import os
import re
import signal
import stat
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from mock_exchange.config import (
    VENUE_NAME_PATTERN,
    ExchangeConfig,
    SessionConfig,
    SymbolConfig,
    VenueConfig,
    WsAccountConfig,
)
from mock_exchange.exchange import Exchange
from mock_exchange.json_log import configure_logging
from mock_exchange.ledger import LedgerError
from mock_exchange.venue import VenueError

GC_YOUNG_THRESHOLD = 50_000  # allocations between young-generation collections (default 700)
T = TypeVar("T")
EXIT_BAD_INPUT = 2
DEFAULT_START_PRICE = 100.0
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
ADMIN_TOKEN_ENV = "MOCKEX_ADMIN_TOKEN"
MAX_TOKEN_FILE_BYTES = 4096
VENUE_FLAGS = (
    "fix_port",
    "ws_port",
    "admin_port",
    "comp_id",
    "client_comp_id",
    "symbol",
    "ws_account",
    "seed",
    "ledger",
    "venue",
    "fill_probability",
    "session_setup",
)

log = logging.getLogger(__name__)


class BadInputError(Exception):
    """What the venue was given cannot be served; the message says why."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The venue's flags, on ``parser`` (``gameday exchange`` adds them to its subcommand)."""
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="VenueConfig or multi-venue ExchangeConfig JSON (instead of the venue flags below)",
    )
    parser.add_argument(
        "--fix-port", type=_port, metavar="P", help="FIX acceptor port (default 0 = a free one)"
    )
    parser.add_argument(
        "--ws-port", type=_port, metavar="P", help="WebSocket JSON API port (default: no WebSocket API)"
    )
    parser.add_argument(
        "--admin-port", type=_port, metavar="P", help="admin HTTP API port (default 0 = a free one)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="let a venue listen beyond loopback (--host or a config's host); a warning is printed",
    )
    parser.add_argument("--comp-id", metavar="ACCEPTOR_ID", help="the venue's CompID (default MOCKEX)")
    parser.add_argument(
        "--client-comp-id",
        action="append",
        metavar="CLIENT_ID",
        help="SenderCompID of a FIX session to accept (repeatable)",
    )
    parser.add_argument(
        "--reset-on-logon", action="store_true", help="restart both sequence numbers at 1 on every logon"
    )
    parser.add_argument(
        "--cancel-on-disconnect",
        action="store_true",
        help="cancel a session's open orders when it disconnects",
    )
    parser.add_argument(
        "--symbol",
        action="append",
        type=_symbol,
        metavar="SYM[:PRICE]",
        help=f"a traded symbol and its start price (default {DEFAULT_START_PRICE:g}; "
        "repeatable; default BTC-USD:60000 and ETH-USD:3000)",
    )
    parser.add_argument(
        "--ws-account",
        action="append",
        type=_ws_account,
        metavar="ACCOUNT:API_KEY",
        help="a WebSocket API account (repeatable; needs --ws-port)",
    )
    parser.add_argument(
        "--seed", type=int, metavar="N", help="seed of the price process and fills (default 0)"
    )
    parser.add_argument(
        "--ledger", type=Path, metavar="PATH", help="ledger file (default ./<venue>.ledger.jsonl)"
    )
    parser.add_argument("--venue", type=_venue_name, metavar="NAME", help="venue name (default venue)")
    parser.add_argument(
        "--fill-probability",
        type=_probability,
        metavar="0..1",
        help="chance a marketable order fills on each step (default 0.6)",
    )
    parser.add_argument("--session-setup", type=float, metavar="SECONDS",
                        help="a session set up after the first order waits this long (default 3; 0: none)")
    parser.add_argument(
        "--admin-token-file",
        type=Path,
        metavar="PATH",
        help="require Authorization: Bearer <the file's content> on the admin API (every route but "
        f"GET /health), for every venue; default ${ADMIN_TOKEN_ENV}, else the config's admin_token, "
        "else open",
    )
    parser.add_argument("--log-level", default="INFO", type=str.upper, choices=LOG_LEVELS)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mock_exchange``."""
    parser = argparse.ArgumentParser(
        prog="python -m mock_exchange",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Serve what the parsed flags describe until SIGINT/SIGTERM; the process exit code."""
    configure_logging("exchange", args.log_level)
    try:
        config = exchange_config(args, os.environ)
        configure_logging("+".join(venue.comp_id for venue in config.venues), args.log_level)
        _check_reach(config, allow_remote=args.allow_remote)
        asyncio.run(serve(config))
    except BadInputError as error:
        print(f"exchange: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


def _check_reach(config: ExchangeConfig, *, allow_remote: bool) -> None:
    """Every venue listens on loopback, unless ``allow_remote``: then each one that does not is named
    in a warning (anyone who reaches the host may trade on it and switch its faults)."""
    remote = [venue for venue in config.venues if not is_loopback_host(venue.host)]
    for venue in remote:
        if not allow_remote:
            raise BadInputError(
                f"venue {venue.name} would listen on {venue.host}, beyond loopback: pass --allow-remote "
                "to serve other hosts"
            )
        print(
            f"exchange: warning: venue {venue.name} listens on {venue.host}: reachable beyond this host",
            file=sys.stderr,
        )


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` is on loopback by its spelling alone (no lookup: a name may change)."""
    if host.lower() in {"localhost", "localhost.localdomain", "ip6-localhost"}:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def exchange_config(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> ExchangeConfig:
    """The venues the flags (or the ``--config`` file) describe, with the admin token ``args`` or
    ``environ`` give."""
    config = _venues(args)
    token = admin_token(args.admin_token_file, environ or {})
    return config if token is None else _with_admin_token(config, token)


def admin_token(path: Path | None, environ: Mapping[str, str]) -> str | None:
    """The token in ``path``, else in ``$MOCKEX_ADMIN_TOKEN``; ``None``: each venue's config decides."""
    if path is not None:
        return _token_file(path)
    token = environ.get(ADMIN_TOKEN_ENV)
    if token is not None and not token.strip():
        raise BadInputError(f"{ADMIN_TOKEN_ENV} is set but empty (unset it for an open admin API)")
    return None if token is None else token.strip()


def _token_file(path: Path) -> str:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_TOKEN_FILE_BYTES + 1)
            mode = os.fstat(file.fileno()).st_mode
    except OSError as error:
        raise BadInputError(f"cannot read --admin-token-file {path}: {error.strerror}") from None
    if len(data) > MAX_TOKEN_FILE_BYTES:
        raise BadInputError(f"--admin-token-file {path} holds more than {MAX_TOKEN_FILE_BYTES} bytes")
    token = data.decode("utf-8", errors="replace").strip()
    if not token:
        raise BadInputError(f"--admin-token-file {path} is empty")
    if stat.S_ISREG(mode) and mode & 0o077:
        log.warning("--admin-token-file %s is readable by more than its owner (mode %o)", path, mode & 0o777)
    return token


def _with_admin_token(config: ExchangeConfig, token: str) -> ExchangeConfig:
    try:
        venues = [{**venue.model_dump(), "admin_token": token} for venue in config.venues]
        return ExchangeConfig(venues=tuple(VenueConfig.model_validate(venue) for venue in venues))
    except ValidationError as error:
        raise BadInputError(f"the admin token: {_describe(error)}") from None


def _venues(args: argparse.Namespace) -> ExchangeConfig:
    if args.config is not None:
        given = [f"--{name.replace('_', '-')}" for name in VENUE_FLAGS if getattr(args, name) is not None]
        if given or args.reset_on_logon or args.cancel_on_disconnect:
            raise BadInputError(f"--config cannot be combined with venue flags ({', '.join(given) or '...'})")
        return load_config(args.config)
    try:
        return ExchangeConfig(venues=(_venue_from_flags(args),))
    except ValidationError as error:
        raise BadInputError(_describe(error)) from None


def load_config(path: Path) -> ExchangeConfig:
    """A ``VenueConfig`` (one venue) or ``ExchangeConfig`` (``{"venues": [...]}``) JSON file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise BadInputError(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise BadInputError(f"{path} is not JSON: {error}") from None
    try:
        if isinstance(data, dict) and "venues" in data:
            return ExchangeConfig.model_validate(data)
        return ExchangeConfig(venues=(VenueConfig.model_validate(data),))
    except ValidationError as error:
        raise BadInputError(f"{path}: {_describe(error)}") from None


async def serve(config: ExchangeConfig) -> None:
    """Run the venues until SIGTERM or SIGINT; print the READY line once they all serve."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with Exchange(config) as exchange:
            tune_garbage_collector()
            print(exchange.ready_line(), flush=True)
            await stop.wait()
            log.info("signal received, shutting down")
    except (OSError, LedgerError, VenueError) as error:
        raise BadInputError(f"cannot start: {error}") from None


def tune_garbage_collector() -> None:
    """Collect cycles less often in the venue process: it allocates many small objects per order
    and keeps its ledger in memory, and the default collections cost about a fifth of the order
    path (bench.venue). What the start-up built (a replayed ledger) is frozen out of every
    collection.
    """
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD)


def _venue_from_flags(args: argparse.Namespace) -> VenueConfig:
    if not args.client_comp_id:
        raise BadInputError("give --client-comp-id (one per FIX session to accept) or --config FILE")
    if args.ws_account and args.ws_port is None:
        raise BadInputError("--ws-account needs --ws-port")
    if args.ws_port is not None and not args.ws_account:
        raise BadInputError("--ws-port needs at least one --ws-account ACCOUNT:API_KEY")
    name = args.venue or "venue"
    sessions = tuple(
        SessionConfig(
            sender_comp_id=comp_id,
            cancel_on_disconnect=args.cancel_on_disconnect,
            reset_on_logon=args.reset_on_logon,
        )
        for comp_id in args.client_comp_id
    )
    values = {
        "name": name,
        "host": args.host,
        "fix_port": args.fix_port or 0,
        "admin_port": args.admin_port or 0,
        "ws_port": args.ws_port,
        "ws_accounts": tuple(
            WsAccountConfig(account=account, api_key=key, cancel_on_disconnect=args.cancel_on_disconnect)
            for account, key in args.ws_account or ()
        ),
        "comp_id": args.comp_id,
        "sessions": sessions,
        "symbols": tuple(args.symbol) if args.symbol else None,
        "seed": args.seed,
        "fill_probability": args.fill_probability,
        "session_setup_s": args.session_setup,
        "ledger_path": args.ledger or Path(f"{name}.ledger.jsonl"),
    }
    return VenueConfig.model_validate({key: value for key, value in values.items() if value is not None})


def _describe(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'config'}: {item['msg']}" for item in error.errors()
    )


def _port(text: str) -> int:
    port = _number(text, int, "a port number")
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535; 0 = a free one)")
    return port


def _probability(text: str) -> float:
    value = _number(text, float, "a probability")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a probability between 0 and 1")
    return value


def _symbol(text: str) -> SymbolConfig:
    symbol, _, price_text = text.partition(":")
    if not symbol:
        raise argparse.ArgumentTypeError(f"{text!r}: expected SYM or SYM:PRICE")
    price = _number(price_text, float, "a price") if price_text else DEFAULT_START_PRICE
    if not (math.isfinite(price) and price > 0):
        raise argparse.ArgumentTypeError(f"{text!r}: the start price must be positive")
    return SymbolConfig(symbol=symbol, start_price=price)


def _venue_name(text: str) -> str:
    if not re.fullmatch(VENUE_NAME_PATTERN, text):
        raise argparse.ArgumentTypeError(f"{text!r}: letters, digits and _ only, starting with a letter")
    return text


def _ws_account(text: str) -> tuple[str, str]:
    account, _, key = text.partition(":")
    if not account or not key:
        raise argparse.ArgumentTypeError(f"{text!r}: expected ACCOUNT:API_KEY")
    return account, key


def _number(text: str, kind: Callable[[str], T], what: str) -> T:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
