"""The web servers: `paperboy serve` runs gunicorn, as the Procfile does, with threaded workers;
`paperboy run` runs waitress in its one process. Both keep a slow client from holding up the rest:
waitress reads whole requests before a thread handles them, and a gunicorn worker has several
threads, so one client that sends slowly holds one thread, not the worker."""

from __future__ import annotations

import signal

from gunicorn.app.base import BaseApplication

from service import store
from service.config import Config, ConfigError, keep_files_private, load_config
from service.runtime import Runtime
from service.web import create_app

THREADS = 8  # per gunicorn worker, and waitress's pool in `paperboy run`
# Answers name the server without its version.
SERVER_NAME = "paperboy"


def check_settings(server) -> None:
    """gunicorn's on_starting hook (gunicorn.conf.py): stop with one line naming a bad
    setting, before any worker boots and fails on it with a traceback of its own."""
    keep_files_private()
    try:
        load_config()
    except ConfigError as error:
        raise SystemExit(f"paperboy: {error}") from None


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
        "worker_class": "gthread",
        "threads": THREADS,
        # A request is parsed by a worker thread; one whose headers never end frees it after this.
        "timeout": 30,
        "limit_request_line": 8190,
    }
    _Gunicorn(app, options).run()


def serve_one_process(app, host: str, port: int, max_body: int) -> None:
    """Serve `app` with waitress on host:port until SIGTERM or Ctrl-C; returns once it has stopped."""
    from waitress.server import create_server

    server = create_server(
        app,
        host=host,
        port=port,
        threads=THREADS,
        ident=SERVER_NAME,
        max_request_body_size=max_body,
        clear_untrusted_proxy_headers=True,
    )

    def stop(*_):
        raise SystemExit(0)  # waitress's loop ends on it and lets its threads finish

    signal.signal(signal.SIGTERM, stop)
    try:
        server.run()
    finally:
        server.close()
