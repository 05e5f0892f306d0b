"""The web app: create_app() wires settings, extensions and one blueprint per concern."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

from service.config import Config, load_config
from service.runtime import Runtime

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

csrf = CSRFProtect()
# Limits are declared on the routes that need them (subscribe, sign-in); memory storage is
# per process, which is enough to slow down a script hammering one worker.
limiter = Limiter(key_func=get_remote_address, default_limits=[], storage_uri="memory://")


def create_app(config: Config | None = None) -> Flask:
    """The Flask app for `config` (default: read from the environment)."""
    runtime = Runtime(config or load_config())
    app = Flask(__name__, template_folder=str(TEMPLATES))
    app.config.update(
        SECRET_KEY=runtime.config.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=runtime.config.secure_cookies,
        RATELIMIT_ENABLED=runtime.config.rate_limits,
        # Forms stay valid as long as the session; the session itself expires.
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.extensions["paperboy"] = runtime
    csrf.init_app(app)
    limiter.init_app(app)
    from subscribers import admin, admin_csv, public, sign_in

    for blueprint in (public.blueprint, sign_in.blueprint, admin.blueprint, admin_csv.blueprint):
        app.register_blueprint(blueprint)
    from service.web import dashboard, digests, feeds, health, pages, search

    for blueprint in (pages.blueprint, feeds.blueprint, search.blueprint, health.blueprint, digests.blueprint,
                      dashboard.blueprint):
        app.register_blueprint(blueprint)
    return app


def current_runtime() -> Runtime:
    """The Runtime of the app handling the current request."""
    return current_app.extensions["paperboy"]
