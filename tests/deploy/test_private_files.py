"""Files paperboy creates under var/ are private: folders 0700, files 0600 (the SQLite file with
its addresses, the generated secret key, mail in the outbox)."""

from __future__ import annotations

import os
import stat
import subprocess

from tests.support.helpers import PAPERBOY


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_and_admin_create_leave_only_private_files_under_var(tmp_path, topics_file):
    environ = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PAPERBOY_TOPICS_FILE": str(topics_file)}
    old = os.umask(0o022)  # as a login shell would leave it
    try:
        done = subprocess.run(
            [str(PAPERBOY), "init"], env=environ, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        made = subprocess.run(
            [str(PAPERBOY), "admin", "create", "admin@example.org"],
            cwd=tmp_path,
            timeout=120,
            env={**environ, "PAPERBOY_ADMIN_PASSWORD": "long enough"},
            capture_output=True,
            text=True,
        )
        assert made.returncode == 0, made.stderr
    finally:
        os.umask(old)
    var = tmp_path / "var"
    assert mode(var) == 0o700
    created = [path for path in var.rglob("*")]
    assert {path.name for path in created} >= {"paperboy.sqlite3", "secret_key"}
    for path in created:
        assert mode(path) == (0o700 if path.is_dir() else 0o600), (path, oct(mode(path)))
