"""``python -m gameday.proxy --host H --port P --seed N [--config FILE] [--allow-remote]``: serve until
SIGTERM or SIGINT.

It takes toxiproxy-server's command line too, so a script written for it runs unchanged: Go's
flag syntax (``-config FILE``, ``--config=FILE``, ``-proxy-metrics``, ``-runtime-metrics=false``),
``-version`` (prints ``toxiproxy-server version 2.12.0`` and exits 0), ``-proxy-metrics`` and
``-runtime-metrics`` (``/metrics`` exists only with one of them) and ``LOG_LEVEL``
(:mod:`gameday.proxy.loglevel`). A port may be a service name, as Go reads it.

``--config FILE`` creates the proxies a JSON file lists (``[{"name", "listen", "upstream",
"enabled"}]``, the body of ``POST /populate``, as real Toxiproxy's ``-config`` takes) before the
READY line, so a service started after READY finds every proxy listening. Unlike real Toxiproxy,
a file that cannot be read or populated is an error: the server exits 1 instead of serving
without proxies. The default host is 127.0.0.1 (toxiproxy-server's is localhost, the same).

``--token-file FILE`` (its first line), else the environment variable ``GAMEDAY_PROXY_TOKEN``, gives
the API a bearer token: every request but ``GET /version`` then needs ``Authorization: Bearer
<token>`` (401 without it). Without either the API is open, as real toxiproxy-server's is.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

import aiohttp

from gameday.proxy import loglevel
from gameday.proxy.api import VERSION
from gameday.proxy.metrics import MetricsOptions
from gameday.proxy.net import resolve_port
from gameday.proxy.server import ToxiproxyServer
from gameday.proxy.timing import precise_event_loop

logger = logging.getLogger("gameday.proxy")
BOOL_FLAGS = ("version", "proxy-metrics", "runtime-metrics", "allow-remote")
TOKEN_ENV = "GAMEDAY_PROXY_TOKEN"
_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")  # Go's strconv.ParseBool
_GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")


class ConfigError(Exception):
    """The ``--config`` file could not be read or its proxies could not be created."""


def _port(text: str) -> int:
    try:
        return resolve_port(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gameday.proxy", description=__doc__, allow_abbrev=False,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-host", "--host", default="127.0.0.1", help="API listen host (default 127.0.0.1)")
    parser.add_argument("-port", "--port", type=_port, default=8474, help="API port; 0 picks a free one")
    parser.add_argument("-seed", "--seed", type=int, default=0, help="seed of the toxicity and jitter rolls")
    parser.add_argument("-config", "--config", type=Path, metavar="FILE",
                        help="JSON list of proxies to create before READY (as Toxiproxy's -config)")
    parser.add_argument("-token-file", "--token-file", type=Path, metavar="FILE",
                        help=f"the API's bearer token, the file's first line (default: ${TOKEN_ENV}; "
                             "neither: no token, as Toxiproxy)")
    parser.add_argument("-allow-remote", "--allow-remote", action="store_true",
                        help="let proxies listen on and dial hosts other than loopback (default: loopback "
                             "only); a non-loopback API host needs it too")
    parser.add_argument("-proxy-metrics", "--proxy-metrics", action="store_true",
                        help="serve /metrics with the proxies' byte counters (as Toxiproxy's flag)")
    parser.add_argument("-runtime-metrics", "--runtime-metrics", action="store_true",
                        help="serve /metrics with the process's metrics (as Toxiproxy's flag)")
    parser.add_argument("-version", "--version", action="store_true", help="print the version and exit")
    return parser


def _go_bools(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """Go's ``-flag=true|false`` for the boolean flags, which argparse reads only as ``-flag``."""
    normalised: list[str] = []
    for index, arg in enumerate(argv):
        if arg == "--":
            return normalised + argv[index:]
        name, equals, value = arg.lstrip("-").partition("=")
        if not (equals and name in BOOL_FLAGS and arg.startswith("-") and not arg.startswith("---")):
            normalised.append(arg)
        elif value in _GO_TRUE:
            normalised.append(f"--{name}")
        elif value not in _GO_FALSE:
            parser.error(f'invalid boolean value "{value}" for -{name}: parse error')
    return normalised


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = _parser()
    args = parser.parse_args(_go_bools(parser, sys.argv[1:] if argv is None else argv))
    if not args.allow_remote and not _loopback_host(args.host):
        parser.error(f"--host {args.host} is not loopback: pass --allow-remote to serve beyond this machine")
    return args


def _loopback_host(host: str) -> bool:
    return host == "localhost" or host.startswith("127.") or host in ("::1", "[::1]")


def read_token(token_file: Path | None, environ: Mapping[str, str]) -> str | None:
    """The API token: ``token_file``'s first line, else ``$GAMEDAY_PROXY_TOKEN``, else none."""
    if token_file is None:
        return environ.get(TOKEN_ENV) or None
    try:
        lines = token_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise ConfigError(f"cannot read the token file {token_file}: {reason}") from None
    token = lines[0].strip() if lines else ""
    if not token:
        raise ConfigError(f"the token file {token_file} is empty")
    return token


async def populate_from(api_url: str, config: Path, token: str | None = None) -> int:
    """``POST /populate`` the proxies of ``config`` to the server at ``api_url``; how many there are.

    Through the API, as any client would: the API thread owns the registry.
    """
    try:
        body = config.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {config}: {exc.strerror or exc}") from None
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    try:
        async with aiohttp.ClientSession() as session, session.post(
            f"{api_url}/populate", data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=30)
        ) as response:
            answer = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ConfigError(f"{config}: populate through {api_url} failed: {exc!r}") from None
    if response.status != 201:
        detail = answer.get("error", answer) if isinstance(answer, dict) else answer
        raise ConfigError(f"{config}: populate answered {response.status}: {detail}")
    return len(answer["proxies"] or [])  # null: none, as Toxiproxy answers an empty list


async def serve(host: str, port: int, seed: int, config: Path | None = None, *,
                allow_remote: bool = False, metrics: MetricsOptions | None = None,
                token: str | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    logger.info("Starting Toxiproxy %s (gameday.proxy) on %s:%d", VERSION, host, port)
    async with ToxiproxyServer(host, port, seed, allow_remote=allow_remote, metrics=metrics,
                               token=token) as server:
        if config is not None:
            created = await populate_from(f"http://{_url_host(host)}:{server.port}", config, token)
            print(f"gameday.proxy: {created} proxies from {config}", file=sys.stderr, flush=True)
        print(f"READY api={server.port}", flush=True)
        await stop.wait()


def _url_host(host: str) -> str:
    """Where to reach the API served on ``host`` (all interfaces: through loopback)."""
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.version:
        print(f"toxiproxy-server version {VERSION}")
        return 0
    loglevel.configure(os.environ.get("LOG_LEVEL"))
    metrics = MetricsOptions(proxy=args.proxy_metrics, runtime=args.runtime_metrics)
    try:
        token = read_token(args.token_file, os.environ)
        with asyncio.Runner(loop_factory=precise_event_loop) as runner:
            runner.run(serve(args.host, args.port, args.seed, args.config, allow_remote=args.allow_remote,
                             metrics=metrics, token=token))
    except (OSError, ConfigError) as exc:
        print(f"gameday.proxy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
