"""The Procfile's process types run by `honcho`, as a deployment runs them, for tests that kill them.

`honcho start` stops every process it started as soon as one of them exits, so one instance
that ran all the types would end the whole deployment with its first killed process. Each process
here is its own `honcho start -f Procfile TYPE`: a killed process ends its own instance only
(tests/test_deployment.py checks that the others keep running). honcho starts each process in a
new session, so the process group whose leader is the pid honcho logs ("web.1 started (pid=N)")
holds the process and everything it forked (gunicorn's workers).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROCFILE = ROOT / "Procfile"
HONCHO = Path(sys.executable).parent / "honcho"
STARTED = re.compile(r"\bstarted \(pid=(\d+)\)")


class ProcfileProcess:
    """One Procfile type under its own `honcho start`; its output (honcho's too) goes to a log file."""

    def __init__(self, kind: str, name: str, environ: dict[str, str], log_dir: Path, port: int | None = None):
        self.kind, self.name, self.port = kind, name, port
        self.log_path = log_dir / f"{name}.log"
        # An empty env file: honcho would otherwise read a .env in the checkout over our settings.
        empty = log_dir / "honcho.env"
        empty.touch()
        command = [str(HONCHO), "start", "-f", str(PROCFILE), "-e", str(empty), "--no-colour"]
        if port is not None:
            command += ["-p", str(port)]
        self.log_file = self.log_path.open("wb")
        # Run from the checkout's root, as a deployment does: gunicorn reads gunicorn.conf.py there.
        self.honcho = subprocess.Popen(
            [*command, kind],
            cwd=ROOT,
            env=environ,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.killed = False
        self._group: int | None = None

    @property
    def group(self) -> int | None:
        """The process group of the Procfile process (None until honcho has started it)."""
        if self._group is None:
            found = STARTED.search(self.log())
            self._group = int(found.group(1)) if found else None
        return self._group

    def owns(self, pid: int) -> bool:
        """Whether `pid` is the Procfile process or one of its children."""
        try:
            return self.group is not None and os.getpgid(pid) == self.group
        except ProcessLookupError:
            return False

    def running(self) -> bool:
        return self.honcho.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")  # honcho writes to the file itself

    def signal_kill(self) -> None:
        """SIGKILL the process and everything it forked, as a crashed machine or the OOM killer
        would; its honcho then ends, having nothing left to run (wait_ended)."""
        os.killpg(self.group, signal.SIGKILL)
        self.killed = True

    def wait_ended(self, seconds: float = 30) -> None:
        try:
            self.honcho.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name}: honcho still runs {seconds} s after its process was killed") from None

    def stop(self, seconds: float = 20) -> int | None:
        """SIGTERM through honcho, as a process manager stops a deployment; SIGKILL after `seconds`.
        Returns how honcho ended, or None when it had to be killed."""
        if self.running():
            self.honcho.send_signal(signal.SIGTERM)
            try:
                self.honcho.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                self.honcho.kill()
                self.honcho.wait()
                if self.group is not None:
                    try:
                        os.killpg(self.group, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                self.log_file.close()
                return None
        self.log_file.close()
        return self.honcho.returncode

    def tail(self, chars: int = 3000) -> str:
        text = self.log()
        return f"----- {self.name} ({self.kind}) -----\n{text[-chars:]}"


def wait_until(condition, seconds: float, what: str, details=lambda: ""):
    """Poll `condition` until it returns something true; fail saying `what` did not happen."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds:g} s\n{details()}")
        time.sleep(0.2)
