"""A wheel install (not editable) runs on its own: `pip install .` into a fresh venv, then
`paperboy run` from a folder outside the checkout serves a topic page from its bundled sample."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import time
import venv
from pathlib import Path

import httpx

from tests.support.helpers import wait_for_home
from tests.support.smtp_server import free_port

CHECKOUT = Path(__file__).resolve().parents[2]
# Only the files a source distribution carries: no venv, no earlier build, no local database.
LEFT_OUT = shutil.ignore_patterns(".git", ".venv", "build", "var", "tests", "bench", "__pycache__", "*.egg-info")


def test_a_wheel_install_serves_a_topic_page(tmp_path, topics_file):
    source = tmp_path / "source"
    shutil.copytree(CHECKOUT, source, ignore=LEFT_OUT)
    prefix = tmp_path / "venv"
    venv.create(prefix, with_pip=False)
    python = prefix / "bin" / "python"
    installed = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # The dependencies come from the test environment (installing them again would take minutes);
    # a plain path line, so that environment's editable paperboy is not put on the path with them.
    (installed / "test-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(source)],
        check=True,
        cwd=tmp_path,
    )
    shutil.rmtree(source)  # what runs next can only be what the wheel installed

    where = subprocess.run(
        [str(python), "-c", "import service.templating as t, service.web as w; print(t.TEMPLATES); print(w.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.split()
    assert all(path.startswith(str(installed)) for path in where), where

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    port = free_port()
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PAPERBOY_DATABASE_URL": f"sqlite:///{outside}/paperboy.sqlite3",
        "PAPERBOY_TOPICS_FILE": str(topics_file),
        "PAPERBOY_ARXIV_API_URL": f"http://127.0.0.1:{free_port()}/api/query",  # nothing listens
        "PAPERBOY_ARXIV_DELAY": "0",
        "PAPERBOY_ARXIV_RETRIES": "0",
        "PAPERBOY_SECRET_KEY": "test-secret",
    }
    process = subprocess.Popen(
        [str(prefix / "bin" / "paperboy"), "run", "--port", str(port)],
        env=environ,
        cwd=outside,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        home = wait_for_home(process, port, 90)
        assert home is not None, "paperboy run did not answer: " + (process.stderr.read() if process.poll() else "")
        assert home.status_code == 200
        # `run` serves at once and loads the sample when its background fetch fails.
        deadline = time.monotonic() + 60
        topic = httpx.get(f"http://127.0.0.1:{port}/topics/vla/", timeout=10)
        while "arxiv.org/abs/" not in topic.text and time.monotonic() < deadline:
            time.sleep(0.5)
            topic = httpx.get(f"http://127.0.0.1:{port}/topics/vla/", timeout=10)
        assert topic.status_code == 200
        assert "Vision-Language-Action Models" in topic.text and "arxiv.org/abs/" in topic.text  # from the sample
        css = httpx.get(f"http://127.0.0.1:{port}/static/paperboy.css", timeout=10)
        assert css.status_code == 200 and "body" in css.text
    finally:
        process.terminate()
        process.communicate(timeout=30)
