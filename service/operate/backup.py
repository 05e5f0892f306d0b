"""`paperboy backup FILE` and `paperboy restore FILE`: the store and the secret key in one archive.

FILE is a tar archive: manifest.json, the database (an SQLite copy made with SQLite's online
backup API, or a pg_dump in custom format) and var/secret_key when the key lives there. A copy
taken while paperboy runs is consistent: SQLite's backup reads one snapshot, as pg_dump does.
"""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service import store
from service.config import Config
from service.errors import PaperboyError
from service.operate import postgres_dump
from service.store import inventory, revisions

MANIFEST = "manifest.json"
SECRET_KEY = "secret_key"
DATABASE_MEMBERS = {"sqlite": "paperboy.sqlite3", "postgresql": "paperboy.pgdump"}
FORMAT = 1


class BackupError(PaperboyError):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Place:
    """Where the store and the secret key of one installation are."""

    config: Config
    var_dir: Path = Path("var")

    @property
    def secret_key_file(self) -> Path:
        return self.var_dir / SECRET_KEY

    def key_in_file(self) -> bool:
        """Whether the key in use is var/secret_key's (not PAPERBOY_SECRET_KEY)."""
        try:
            return self.secret_key_file.read_text().strip() == self.config.secret_key
        except FileNotFoundError:
            return False


def backup(place: Place, file: Path) -> list[str]:
    """Write the archive to `file`; the lines say what it holds."""
    engine = store.connect(place.config.database_url)
    kind = engine.dialect.name
    try:
        with engine.connect() as conn:
            revision = revisions.stored(conn)
            counts = inventory.row_counts(conn)
            server = inventory.server_version(conn) if kind == "postgresql" else None
    except store.DatabaseError as error:
        raise BackupError(f"backup: {store.describe(error)}") from None
    if revision is None:
        raise BackupError(f"backup: no paperboy store at {_shown(engine)}")
    with tempfile.TemporaryDirectory(dir=file.parent if file.parent.exists() else None) as scratch:
        copy = Path(scratch) / DATABASE_MEMBERS[kind]
        if kind == "sqlite":
            _copy_sqlite(_sqlite_path(engine), copy)
        else:
            postgres_dump.dump(engine.url, copy, server or 0, file)
        engine.dispose()
        manifest = {
            "format": FORMAT,
            "database": kind,
            "migration": revision,
            "counts": counts,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "secret_key": SECRET_KEY if place.key_in_file() else "PAPERBOY_SECRET_KEY",
        }
        partial = file.with_name(file.name + ".partial")
        with tarfile.open(partial, "w") as archive:
            _add_bytes(archive, MANIFEST, json.dumps(manifest, indent=2).encode())
            archive.add(copy, DATABASE_MEMBERS[kind])
            if place.key_in_file():
                archive.add(place.secret_key_file, SECRET_KEY)
        partial.replace(file)  # a crash mid-way never leaves a truncated FILE behind
    lines = [f"backup: wrote {file} ({kind}, migration {revision}: {_counted(counts)})"]
    if place.key_in_file():
        lines.append(f"backup: {place.secret_key_file} is in it: it signs the links of mails already sent")
    else:
        lines.append(
            "backup: the secret key is PAPERBOY_SECRET_KEY in your settings, not in the archive: keep "
            "it with the backup, or the links of mails already sent stop working"
        )
    return lines


def restore(place: Place, file: Path, force: bool = False) -> list[str]:
    """Put the archive's store (and secret key) in place; refuse to replace data unless `force`."""
    manifest, members = _read(file)
    engine = store.connect(place.config.database_url)
    kind = engine.dialect.name
    if manifest["database"] != kind:
        raise BackupError(
            f"restore: {file} holds a {manifest['database']} store and PAPERBOY_DATABASE_URL "
            f"is {kind}: restore it into a {manifest['database']} database"
        )
    try:
        with engine.connect() as conn:
            counts = inventory.row_counts(conn)
    except store.DatabaseError as error:
        raise BackupError(f"restore: {store.describe(error)}") from None
    if any(counts.values()) and not force:
        raise BackupError(
            f"restore: the database at {_shown(engine)} holds {_counted(counts)}; stop paperboy "
            "and add --force to replace it"
        )
    # var/secret_key goes with the store: an empty store has sent no links signed with the key
    # paperboy made when it first started here, so replacing that key loses nothing.
    key = members.get(SECRET_KEY)
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / DATABASE_MEMBERS[kind]
        copy.write_bytes(members[DATABASE_MEMBERS[kind]])
        if kind == "sqlite":
            engine.dispose()
            _copy_sqlite(copy, _sqlite_path(engine))
        else:
            postgres_dump.restore(engine.url, copy)
    engine.dispose()
    lines = [
        f"restore: {_shown(engine)} now holds the store of {manifest['created']} "
        f"(migration {manifest['migration']}: {_counted(manifest['counts'])}); run paperboy init before "
        "starting paperboy, in case this version is newer"
    ]
    if key is not None:
        place.var_dir.mkdir(parents=True, exist_ok=True)
        place.secret_key_file.write_bytes(key)
        lines.append(f"restore: {place.secret_key_file} restored")
    else:
        lines.append(
            "restore: the backup has no secret key: set PAPERBOY_SECRET_KEY to the one it was taken "
            "with, or links in mails already sent stop working"
        )
    return lines


def _copy_sqlite(source: Path, target: Path) -> None:
    """Copy one consistent snapshot of `source` into `target` with SQLite's online backup API:
    writers carry on meanwhile, and target's other connections see the whole copy or none of it."""
    if not source.is_file():
        raise BackupError(f"backup: no SQLite database at {source}")
    with closing(sqlite3.connect(source)) as reader, closing(sqlite3.connect(target)) as writer:
        for connection in (reader, writer):
            connection.execute(f"PRAGMA busy_timeout={store.BUSY_TIMEOUT_MS}")
        reader.backup(writer)  # one step: the whole copy is read in one transaction


def _read(file: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    try:
        with tarfile.open(file) as archive:
            members = {}
            for member in archive.getmembers():
                content = archive.extractfile(member) if member.isfile() else None
                if content is not None:
                    members[member.name] = content.read()
        manifest = json.loads(members[MANIFEST])
    except (OSError, tarfile.TarError, KeyError, ValueError) as error:
        raise BackupError(f"restore: {file} is not a paperboy backup ({error})") from None
    if manifest.get("format") != FORMAT or DATABASE_MEMBERS.get(manifest.get("database")) not in members:
        raise BackupError(f"restore: {file} is not a backup this paperboy can read")
    return manifest, members


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(time.time())
    archive.addfile(info, io.BytesIO(data))


def _sqlite_path(engine: store.Engine) -> Path:
    return Path(engine.url.database or "")


def _shown(engine: store.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _counted(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {name}" for name, count in counts.items()) or "no tables"
