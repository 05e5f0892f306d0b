"""pg_dump and pg_restore for `paperboy backup` and `restore` on PostgreSQL: run when a client at
least as new as the server is installed; otherwise the error says plainly what to run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL

from service.errors import PaperboyError


class DumpError(PaperboyError):
    """pg_dump or pg_restore is missing, too old, or failed; the message says what to run."""


def dump(url: URL, target: Path, server_major: int, file: Path) -> None:
    """pg_dump the database at `url` into `target`, in custom format."""
    command = f"pg_dump --format=custom --file={file}.pgdump '{_conninfo(url)}'"
    pg_dump = _client("pg_dump", server_major, f"run {command} (and keep var/secret_key with it)")
    _run([pg_dump, "--format=custom", "--no-owner", "--file", str(target), "--dbname", _conninfo(url)], url)


def restore(url: URL, source: Path) -> None:
    """pg_restore `source` into the database at `url`, replacing what the dump holds, at once."""
    pg_restore = _client(
        "pg_restore",
        None,
        f"run pg_restore --clean --if-exists --no-owner --dbname '{_conninfo(url)}' on the archive's paperboy.pgdump",
    )
    _run(
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            "--dbname",
            _conninfo(url),
            str(source),
        ],
        url,
    )


def _client(name: str, server_major: int | None, instead: str) -> str:
    found = shutil.which(name)
    wanted = f"PostgreSQL {server_major}'s" if server_major else "PostgreSQL's"
    if found is None:
        raise DumpError(
            f"backup: {name} is not installed (Debian: postgresql-client); install {wanted} client, or {instead}"
        )
    version = subprocess.run([found, "--version"], capture_output=True, text=True).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", version)
    major = int(match.group(1)) if match else 0
    if server_major is not None and major < server_major:
        raise DumpError(
            f"backup: {name} {major} cannot dump a PostgreSQL {server_major} server; install "
            f"{wanted} client, or {instead}"
        )
    return found


def _run(argv: list[str], url: URL) -> None:
    # The password goes in the environment, never on a command line other users can read.
    environ = dict(os.environ, PGPASSWORD=url.password or "", PGCONNECT_TIMEOUT="10")
    done = subprocess.run(argv, capture_output=True, text=True, env=environ)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[0]
        raise DumpError(f"backup: {Path(argv[0]).name} failed: {reason}")


def _conninfo(url: URL) -> str:
    """A libpq URL without the password (psycopg's driver name is not libpq's)."""
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
