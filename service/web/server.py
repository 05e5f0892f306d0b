"""The web servers: `paperboy serve` runs gunicorn, as the Procfile does, whose workers serve
with waitress (service/web/buffering.py); `paperboy run` runs that server in its one process.
Either way a request is read whole, within bounded times, before a thread handles it, so slow or
idle clients cost sockets, not threads (deploy/nginx.conf in front is still the recommendation)."""

from __future__ import annotations

import gc
import signal
import socket
import threading

from flask import Flask
from gunicorn.app.base import BaseApplication

from service import store
from service.config import Config, ConfigError, keep_files_private, load_config
from service.runtime import Runtime
from service.web import create_app
from service.web.buffering import BufferedServer

# gunicorn's worker class, here and in gunicorn.conf.py for the Procfile's `web`.
WORKER_CLASS = "service.web.buffering.BufferedWorker"


def check_settings(server) -> None:
    """gunicorn's on_starting hook (gunicorn.conf.py): stop with one line naming a bad
    setting, before any worker boots and fails on it with a traceback of its own."""
    keep_files_private()
    try:
        load_config()
    except ConfigError as error:
        raise SystemExit(f"paperboy: {error}") from None


def settle_heap() -> None:
    """Once a server process has loaded its app: what the app holds lives as long as the
    process, so it leaves the garbage collector's view (gc.freeze).
    The collector's full passes then walk what requests made; otherwise each walks the whole
    app (about 50 ms on a 2-core machine) whenever a request keeps thousands of objects, as a
    window's first ranking does (BENCHMARKS.md, "Pages as cheap as feeds")."""
    gc.collect()
    gc.freeze()


def settle_worker_heap(_worker: object) -> None:
    """gunicorn's post_worker_init hook: settle_heap() in each worker once its app is loaded."""
    settle_heap()


class _Gunicorn(BaseApplication):
    def __init__(self, app, options: dict):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application


def check_listen(host: str, port: int) -> None:
    """Raise OSError when host:port cannot be listened on (in use, no such address): gunicorn
    would log the failure five times over five seconds, then exit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        probe.bind((host, port))
        probe.listen()


def serve(config: Config, host: str, port: int, workers: int) -> None:
    """Migrate the database once, then serve on host:port with `workers` processes."""
    runtime = Runtime(config)
    store.migrate(runtime.engine)  # here, so that workers never race to create the schema
    runtime.engine.dispose()  # each worker opens its own connections after the fork
    app = create_app(config)
    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "accesslog": "-",
        "errorlog": "-",
        "proc_name": "paperboy-web",
        "worker_class": WORKER_CLASS,
        # A worker that stops telling gunicorn's master it is alive for this long is restarted.
        "timeout": 30,
        "post_worker_init": settle_worker_heap,
    }
    _Gunicorn(app, options).run()


def listen_one_process(app: Flask, host: str, port: int, trusted_proxies: int = 0) -> BufferedServer:
    """A server for `app` listening on host:port (OSError when it cannot), not serving yet."""
    return BufferedServer(app, trusted_proxies=trusted_proxies, host=host, port=port)


def serve_one_process(server: BufferedServer) -> None:
    """Serve until SIGTERM or Ctrl-C; returns once it has stopped."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    settle_heap()
    try:
        while not stopping.is_set():
            server.serve_for(1.0)
    finally:
        server.close()
