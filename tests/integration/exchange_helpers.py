"""The venue as a child process (``gameday exchange`` / ``python -m mock_exchange``) for tests."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

GAMEDAY = (sys.executable, "-c", "from gameday.cli import main; main()")
MOCK_EXCHANGE = (sys.executable, "-m", "mock_exchange")
START_TIMEOUT_S = 20.0


def cli_flags(tmp_path: Path, *extra: str) -> list[str]:
    """``gameday exchange`` flags for one venue ``desk`` (ledger in ``tmp_path``), plus ``extra``."""
    fixed = "--fix-port 0 --admin-port 0 --comp-id ACCEPTOR --client-comp-id CLIENT --symbol ABC:50 --seed 3"
    ledger = ["--ledger", str(tmp_path / "desk.jsonl"), "--venue", "desk", "--fill-probability", "0"]
    return ["exchange", *fixed.split(), *ledger, *extra]


@dataclass
class ExchangeChild:
    process: asyncio.subprocess.Process
    ports: dict[str, int]
    log_path: Path

    async def terminate(self, timeout_s: float = 10.0) -> int:
        """SIGTERM, then the exit code."""
        self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(timeout_s):
            return await self.process.wait()


@asynccontextmanager
async def exchange_process(command: Sequence[str], log_path: Path) -> AsyncIterator[ExchangeChild]:
    """Start ``command``, wait for its READY line, and always leave it stopped."""
    with log_path.open("ab") as log_file:
        process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=log_file
        )
    try:
        yield ExchangeChild(process, await _ready_ports(process, log_path), log_path)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _ready_ports(process: asyncio.subprocess.Process, log_path: Path) -> dict[str, int]:
    assert process.stdout is not None
    async with asyncio.timeout(START_TIMEOUT_S):
        line = (await process.stdout.readline()).decode()
    assert line.startswith("READY "), f"no READY line, got {line!r}; log:\n{log_path.read_text()}"
    return {key: int(value) for key, value in (pair.split("=") for pair in line.split()[1:])}
