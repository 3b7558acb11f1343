"""Postgres's files and credentials (issue 15): directories the server user cannot enter are never
widened (its data goes elsewhere, and is removed once nothing names it), and the run's password is
stored as the SCRAM verifier of RFC 7677, never sent as is."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import pwd
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday.stack import pg_dirs
from gameday.stack.errors import ServiceStartError
from gameday.stack.pg_auth import HBA_RULES, new_password, scram_verifier
from gameday.stack.pg_dirs import closed_on_the_way, make_parents, place_data_dir, release_data_dir

STRANGER = pwd.struct_passwd(("stranger", "x", 54321, 54321, "", "/", "/bin/false"))
"""An account that owns nothing here, as the server's is to the harness's directories."""


def _modes(path: Path) -> dict[Path, int]:
    return {directory: stat.S_IMODE(directory.stat().st_mode) for directory in [path, *path.parents]}


@pytest.fixture
def base(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A relocation base every user may enter (as /tmp is), instead of the machine's."""
    directory = Path(tempfile.mkdtemp(prefix="pg-base-", dir="/tmp"))
    directory.chmod(0o755)
    monkeypatch.setattr(pg_dirs, "BASES", (directory,))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_the_first_closed_directory_on_the_way_is_named(base: Path) -> None:
    outer = base / "outer"
    inner = outer / "inner"
    inner.mkdir(parents=True)
    outer.chmod(0o711)
    inner.chmod(0o711)
    assert closed_on_the_way(inner / "data", STRANGER) is None
    outer.chmod(0o750)
    assert closed_on_the_way(inner / "data", STRANGER) == outer
    (base / "link").symlink_to(inner)
    assert closed_on_the_way(base / "link" / "data", STRANGER) == outer  # where the link leads
    by_group = pwd.struct_passwd(("group", "x", 54321, outer.stat().st_gid, "", "/", "/bin/false"))
    assert closed_on_the_way(inner / "data", by_group) is None  # the group may enter


def test_parents_are_made_passable_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o077)
    try:
        make_parents(tmp_path / "a" / "b" / "data")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o711
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o711
    assert not (tmp_path / "a" / "b" / "data").exists()
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o700  # not the harness's: as pytest made it


def test_a_reachable_place_is_used_as_asked(tmp_path: Path, base: Path) -> None:
    assert place_data_dir(tmp_path / "run" / "pgdata", None) == tmp_path / "run" / "pgdata"
    assert list(base.iterdir()) == []


def test_a_closed_way_relocates_the_data_and_changes_no_mode(tmp_path: Path, base: Path) -> None:
    tmp_path.chmod(0o700)
    wanted = tmp_path / "run" / "pgdata"
    before = _modes(tmp_path)

    placed = place_data_dir(wanted, STRANGER)
    placed.mkdir()

    assert _modes(tmp_path) == before
    assert base in placed.parents
    assert closed_on_the_way(placed, STRANGER) is None
    assert wanted.is_symlink()
    assert wanted.resolve() == placed.resolve()
    for level in placed.parents:
        if level == base:
            break
        info = level.stat()
        assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o711, os.getuid()), level
    release_data_dir(wanted)
    assert not wanted.is_symlink()
    assert not wanted.exists()
    assert not placed.parent.exists()


def test_relocated_data_nothing_names_is_swept(tmp_path: Path, base: Path) -> None:
    tmp_path.chmod(0o700)
    kept = place_data_dir(tmp_path / "kept" / "pgdata", STRANGER)
    dropped = place_data_dir(tmp_path / "dropped" / "pgdata", STRANGER)
    kept.mkdir()
    dropped.mkdir()
    shutil.rmtree(tmp_path / "dropped")  # the run's scratch removed: the symlink with it
    own_root = kept.parents[1].parent
    gone_harness = own_root / "postgres-999999999-1"
    (gone_harness / "x-1" / "data").mkdir(parents=True)

    pg_dirs.sweep_relocated()

    assert kept.is_dir()
    assert not dropped.parent.exists()
    assert not gone_harness.exists()


def test_no_reachable_base_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tmp_path.chmod(0o700)
    monkeypatch.setattr(pg_dirs, "BASES", (tmp_path,))
    with pytest.raises(ServiceStartError) as raised:
        place_data_dir(tmp_path / "run" / "pgdata", STRANGER)
    [message] = str(raised.value).strip().splitlines()
    closed = closed_on_the_way(tmp_path, STRANGER)  # pytest's basetemp (0700), or a directory above it
    assert f"stranger, which cannot enter {closed} (mode 0700, owner " in message
    assert "GAMEDAY_SCRATCH" in message


def test_the_verifier_is_rfc_7677s() -> None:
    """RFC 7677's exchange (user "user", password "pencil"): the server's signature and the client's
    proof check out against the stored and server keys computed here."""
    salt = "W22ZaJ0SNY7soEsUEjb6gQ=="
    verifier = scram_verifier("pencil", salt=base64.b64decode(salt))
    method, iterations_salt, keys = verifier.split("$")
    stored_key, server_key = (base64.b64decode(key) for key in keys.split(":"))
    client_nonce = "rOprNGfwEbeRWgbNEkqO"
    server_nonce = client_nonce + "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    auth = (f"n=user,r={client_nonce},r={server_nonce},s={salt},i=4096,c=biws,r={server_nonce}").encode()
    proof = base64.b64decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    client_key = bytes(a ^ b for a, b in zip(proof, hmac.digest(stored_key, auth, "sha256"), strict=True))

    assert (method, iterations_salt) == ("SCRAM-SHA-256", f"4096:{salt}")
    assert base64.b64encode(hmac.digest(server_key, auth, "sha256")).decode() == \
        "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    assert hashlib.sha256(client_key).digest() == stored_key


def test_passwords_are_fresh_and_the_rules_trust_nobody() -> None:
    passwords = {new_password() for _ in range(50)}
    assert len(passwords) == 50
    assert all(len(p) >= 32 and p.replace("-", "").replace("_", "").isalnum() for p in passwords)
    rules = [line.split() for line in HBA_RULES.splitlines() if line and not line.startswith("#")]
    assert rules == [["host", "all", "postgres", "127.0.0.1/32", "scram-sha-256"],
                     ["host", "replication", "postgres", "127.0.0.1/32", "scram-sha-256"]]
    first = scram_verifier("same")
    assert first != scram_verifier("same")  # a fresh salt each time
    assert "same" not in first
