"""Who may connect to a run's Postgres: the ``postgres`` role with the run's password, over loopback TCP.

The cached template (made once by ``initdb``) holds no password and is never started. Each copy of
it gets, before its server first starts:

- its own ``pg_hba.conf``: SCRAM over 127.0.0.1, for sessions and for replication; no ``local``
  rule, as the server opens no Unix socket (``unix_socket_directories`` is empty);
- the run's password on the ``postgres`` role, set by a single-user ``postgres --single`` (no
  connection, so no moment when the server accepts one without the password). What is sent is the
  SCRAM verifier computed here, never the password itself, so not even a server log can hold it.

A replica is a base backup of its primary: the same role, password and rules. The password reaches
the services in their configuration files (written 0600) and ``pg_basebackup`` in its environment.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from pathlib import Path

from gameday.stack.errors import ServiceStartError
from gameday.stack.process import log_tail

__all__ = ["HBA_RULES", "new_password", "scram_verifier", "set_password", "write_hba"]

SCRAM_ITERATIONS = 4096  # Postgres's default (scram_iterations)
HBA_RULES = """\
# gameday: this run's rules (the template's are replaced in every copy).
# Loopback TCP only, with the run's password; no Unix socket is opened, so there is no local rule.
host    all          postgres    127.0.0.1/32    scram-sha-256
host    replication  postgres    127.0.0.1/32    scram-sha-256
"""


def new_password() -> str:
    """A fresh random password (URL-safe: it needs no quoting in a DSN or a SQL literal)."""
    return secrets.token_urlsafe(24)


def scram_verifier(password: str, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """What Postgres stores for a SCRAM-SHA-256 password (RFC 5802/7677), as ``pg_authid`` holds it.

    ``password`` is ASCII (as :func:`new_password` makes it), which SASLprep leaves unchanged."""
    salt = secrets.token_bytes(16) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored_key = hashlib.sha256(hmac.digest(salted, b"Client Key", "sha256")).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def write_hba(data_dir: Path) -> None:
    """Replace the copy's ``pg_hba.conf`` with :data:`HBA_RULES` (before the copy is handed to the
    server user)."""
    (data_dir / "pg_hba.conf").write_text(HBA_RULES)
    (data_dir / "pg_hba.conf").chmod(0o600)


async def set_password(postgres: Path, data_dir: Path, password: str, log_path: Path, *, user: str | None,
                       timeout_s: float, name: str = "postgres") -> None:
    """The ``postgres`` role's password in the stopped cluster ``data_dir``, set in single-user mode.

    The backend reads one statement and ends at the end of its input: it needs no signal to stop, so
    it is not bound to the harness's life (a SIGKILLed harness would leave the segment of a backend
    killed with it), and it is waited for even when the caller is cancelled."""
    statement = f"ALTER ROLE postgres PASSWORD '{scram_verifier(password)}';\n"
    argv = [str(postgres), "--single", "-D", str(data_dir), "-c", "exit_on_error=on", "-c", "fsync=off",
            "-c", "dynamic_shared_memory_type=mmap", "postgres"]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        backend = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=log, stderr=log, user=user, group=user,
            extra_groups=[] if user else None, start_new_session=True)
    done = asyncio.ensure_future(backend.communicate(statement.encode()))
    try:
        await asyncio.wait_for(asyncio.shield(done), timeout_s)
    except TimeoutError:
        backend.kill()
        await done
        raise ServiceStartError(name, f"setting the run's password took over {timeout_s:.0f}s",
                                log_tail(log_path)) from None
    except asyncio.CancelledError:
        await asyncio.wait([done])
        raise
    if backend.returncode != 0:
        raise ServiceStartError(name, f"setting the run's password failed (postgres --single exited with "
                                      f"code {backend.returncode})", log_tail(log_path))
