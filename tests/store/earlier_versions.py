"""Earlier landed versions of paperboy, taken from git history and installed into scratch venvs
that reuse this venv's dependencies (the pins have only grown since), so none is installed again."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import tarfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILDER = Path(__file__).with_name("earlier_version.py")

# The first landed version that can write every row these tests check (the first with `paperboy
# digest send`); its `make test` passes (243 tests; PostgreSQL and browser tests skip without
# their settings). The skeleton before it (16bfc65, 2 tests passing) cannot write subscribers yet.
# its migrations 0001 and 0002 were still to be edited in place (no admin_user.session_epoch, the
# first search index), which `paperboy init` repairs (service/store/revisions.py).
FIRST = "4a8c096d5bc365e78dabfae663887b4da9a92655"
# The end of the first day's work on main (2026-11-24): 0001 and 0002 as they stand.
FIRST_DAY = "c14f385033ff3787e11d0e5bebb52d9ec933da37"
# The previous landed version with another schema: main just before the mail queue (0006) landed,
# when the migrations were still numbered 0002, 0005 (inbound), 0007 (search vector), 0004
# (digest preferences): its stores say "0004" where today's 0004 means less.
PREVIOUS = "7b3aed42560bf10f630923eb004611ea5d1e0b61"
VERSIONS = {"first": FIRST, "first-day": FIRST_DAY, "previous": PREVIOUS}


def install(commit: str, folder: Path) -> Path:
    """Check out `commit` into folder/code and install it, editable and without dependencies, into
    the venv folder/venv, whose .pth file lends it this venv's packages. Returns its paperboy."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit], capture_output=True, check=False
    )
    if archive.returncode != 0:
        raise RuntimeError(f"git cannot check out {commit[:12]} (a shallow clone?): {archive.stderr.decode()}")
    code = folder / "code"
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(code, filter="data")
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # A path in a .pth file goes on sys.path after the venv's own site-packages, and the .pth
    # files inside it are not read: this venv's editable paperboy stays out of sight.
    Path(site, "lent-packages.pth").write_text(sysconfig.get_path("purelib") + "\n")
    # The build backend (setuptools) comes from pip's cache after the first time.
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--editable", str(code)],
        check=True,
        capture_output=True,
    )
    return venv / "bin" / "paperboy"
