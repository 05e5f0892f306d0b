"""`paperboy serve`: the web app under gunicorn, as the Procfile runs it, on one command."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from service import store
from service.config import Config, ConfigError, load_config
from service.runtime import Runtime
from service.web import create_app


def check_settings(server) -> None:
    """gunicorn's on_starting hook (gunicorn.conf.py): stop with one line naming a bad
    setting, before any worker boots and fails on it with a traceback of its own."""
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
    }
    _Gunicorn(app, options).run()
