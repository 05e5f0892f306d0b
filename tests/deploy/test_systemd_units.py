"""deploy/systemd/: one unit per Procfile type, restarted on failure, run as a dedicated user in a
sandbox, each accepted by `systemd-analyze verify` and rated OK by `systemd-analyze security`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
SYSTEM_UNITS = Path("/usr/lib/systemd/system")
EXECUTABLE = "/opt/paperboy/venv/bin/paperboy"  # where the README installs paperboy
# systemd-analyze security rates exposure from 0 (none) to 10 (full); 2.0 and under is "OK".
EXPOSURE_THRESHOLD = 20


def procfile_types() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def unit_settings(name: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (UNITS / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.fail("systemd-analyze is missing: install the Debian package systemd (.ci/run does)")
    return found


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """A file system root holding the units where the README installs them, paperboy's
    executable and systemd's own units, so verify checks them without touching this machine."""
    root = tmp_path_factory.mktemp("root")
    units = root / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    for unit in UNITS.glob("paperboy*"):
        if unit.suffix in (".service", ".target"):
            shutil.copy(unit, units / unit.name)
    shutil.copytree(SYSTEM_UNITS, root / SYSTEM_UNITS.relative_to("/"), symlinks=True)
    executable = root / EXECUTABLE.lstrip("/")
    executable.parent.mkdir(parents=True)
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    return root


def test_it_has_one_unit_per_procfile_type_running_its_command():
    for kind, command in procfile_types().items():
        settings = unit_settings(f"paperboy-{kind}.service")
        (exec_start,) = settings["ExecStart"]
        assert exec_start.startswith(EXECUTABLE + " ")
        # The Procfile's web runs gunicorn itself; `paperboy serve` runs the same gunicorn app.
        subcommand = "serve" if kind == "web" else command.split()[1]
        assert exec_start.split()[1] == subcommand
        assert "paperboy.target" in settings["PartOf"] and "paperboy.target" in settings["WantedBy"]


@pytest.mark.parametrize("kind", sorted(procfile_types()))
def test_it_restarts_on_failure_as_a_dedicated_user_in_a_sandbox(kind):
    settings = unit_settings(f"paperboy-{kind}.service")
    expected = {
        "Restart": "on-failure",
        "User": "paperboy",
        "Group": "paperboy",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "NoNewPrivileges": "yes",
        "PrivateDevices": "yes",
        "StateDirectory": "paperboy",
        "WorkingDirectory": "/var/lib/paperboy",
        "UMask": "0077",
        "EnvironmentFile": "/etc/paperboy/paperboy.env",
        "CapabilityBoundingSet": "",
    }
    for key, value in expected.items():
        assert settings.get(key) == [value], key


def test_it_passes_systemd_analyze_verify(root):
    names = [f"/etc/systemd/system/{unit.name}" for unit in sorted((root / "etc/systemd/system").iterdir())]
    assert len(names) == len(procfile_types()) + 1  # and paperboy.target
    done = subprocess.run(
        [systemd_analyze(), "verify", "--man=no", f"--root={root}", *names], capture_output=True, text=True
    )
    # verify prints a line for each setting it ignores, without failing: no line at all is the bar.
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


@pytest.mark.parametrize("kind", sorted(procfile_types()))
def test_it_is_rated_ok_by_systemd_analyze_security(root, kind):
    done = subprocess.run(
        [
            systemd_analyze(),
            "security",
            "--offline=yes",
            f"--root={root}",
            "--no-pager",
            f"--threshold={EXPOSURE_THRESHOLD}",
            f"/etc/systemd/system/paperboy-{kind}.service",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout.splitlines()[-1]
