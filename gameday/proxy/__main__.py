"""``python -m gameday.proxy --host H --port P --seed N [--config FILE] [--allow-remote]``: serve until
SIGTERM or SIGINT.

``--config FILE`` creates the proxies a JSON file lists (``[{"name", "listen", "upstream",
"enabled"}]``, the body of ``POST /populate``, as real Toxiproxy's ``-config`` takes) before the
READY line, so a service started after READY finds every proxy listening. Unlike real Toxiproxy,
a file that cannot be read or populated is an error: the server exits 1 instead of serving
without proxies.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

import aiohttp

from gameday.proxy.server import ToxiproxyServer
from gameday.proxy.timing import precise_event_loop


class ConfigError(Exception):
    """The ``--config`` file could not be read or its proxies could not be created."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gameday.proxy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="API listen host (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8474, help="API port; 0 picks a free one")
    parser.add_argument("--seed", type=int, default=0, help="seed of the toxicity and jitter rolls")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="JSON list of proxies to create before READY (as Toxiproxy's -config)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="let proxies listen on and dial hosts other than loopback (default: loopback "
                             "only); a non-loopback API host needs it too")
    args = parser.parse_args(argv)
    if not args.allow_remote and not _loopback_host(args.host):
        parser.error(f"--host {args.host} is not loopback: pass --allow-remote to serve beyond this machine")
    return args


def _loopback_host(host: str) -> bool:
    return host == "localhost" or host.startswith("127.") or host in ("::1", "[::1]")


async def populate_from(api_url: str, config: Path) -> int:
    """``POST /populate`` the proxies of ``config`` to the server at ``api_url``; how many there are.

    Through the API, as any client would: the API thread owns the registry.
    """
    try:
        body = config.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {config}: {exc.strerror or exc}") from None
    try:
        async with aiohttp.ClientSession() as session, session.post(
            f"{api_url}/populate", data=body, timeout=aiohttp.ClientTimeout(total=30)
        ) as response:
            answer = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ConfigError(f"{config}: populate through {api_url} failed: {exc!r}") from None
    if response.status != 201:
        detail = answer.get("error", answer) if isinstance(answer, dict) else answer
        raise ConfigError(f"{config}: populate answered {response.status}: {detail}")
    return len(answer["proxies"])


async def serve(host: str, port: int, seed: int, config: Path | None = None, *,
                allow_remote: bool = False) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with ToxiproxyServer(host, port, seed, allow_remote=allow_remote) as server:
        if config is not None:
            created = await populate_from(f"http://{_url_host(host)}:{server.port}", config)
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
    try:
        with asyncio.Runner(loop_factory=precise_event_loop) as runner:
            runner.run(serve(args.host, args.port, args.seed, args.config, allow_remote=args.allow_remote))
    except (OSError, ConfigError) as exc:
        print(f"gameday.proxy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
