"""The web app: create_app() wires settings, extensions, app-wide hooks and every blueprint."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import ServiceUnavailable

from service import store
from service.clock import utc_now
from service.config import Config, load_config
from service.model.states import DeliveryState, RunStatus, SubscriberStatus
from service.runtime import Runtime
from service.templating import TEMPLATES
from service.web import body_limits as limits
from service.web import headers
from service.web.admin import admins, bulk, dashboard, digests, inbound, sign_in, topics
from service.web.admin import csv_import as admin_csv
from service.web.admin import subscribers as admin
from service.web.admin.auth import close_admin_to_visitors, keep_admin_pages_out_of_caches
from service.web.extensions import csrf
from service.web.public import feeds, health, pages, search, votes
from service.web.public import subscribe as public
from service.web.rate_limits import limiter, limiter_settings
from service.web.summaries import STAMP_SECONDS, install_render_cache
from service.web.urls import WeekConverter

BLUEPRINTS = (
    public.blueprint,
    votes.blueprint,
    sign_in.blueprint,
    admin.blueprint,
    admin_csv.blueprint,
    bulk.blueprint,
    admins.blueprint,
    topics.blueprint,
    pages.blueprint,
    feeds.blueprint,
    search.blueprint,
    health.blueprint,
    digests.blueprint,
    inbound.blueprint,
    dashboard.blueprint,
)


def create_app(
    config: Config | None = None, *, clock: Callable[[], datetime] = utc_now, stamp_seconds: float = STAMP_SECONDS
) -> Flask:
    """The Flask app for `config` (default: read from the environment). Tests pass a frozen
    `clock`, and `stamp_seconds=0` to see every change in the store at once."""
    runtime = Runtime(config or load_config(), clock=clock)
    app = Flask(__name__, template_folder=TEMPLATES)
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
    # Templates test states by name, with the same vocabulary as the code.
    app.jinja_env.globals.update(SubscriberStatus=SubscriberStatus, DeliveryState=DeliveryState, RunStatus=RunStatus)
    app.config.update(limiter_settings(runtime.config.rate_limit_storage))
    # Before CSRF's hook, which reads the form: the body's bound must be set by then.
    limits.install(app, runtime.config.trusted_proxies)
    csrf.init_app(app)
    limiter.init_app(app)
    # Anything under /admin but signing in needs an admin, whichever blueprint adds the page.
    app.before_request(close_admin_to_visitors)
    app.after_request(keep_admin_pages_out_of_caches)
    app.register_error_handler(CSRFError, csrf_refused)
    app.register_error_handler(store.DatabaseError, store_busy)
    app.register_error_handler(store.StoreError, store_busy)  # no connection for the first request
    app.url_map.converters["week"] = WeekConverter
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    install_render_cache(app, stamp_seconds)
    # Last, around the render cache too, so that answers from memory carry the headers as well.
    headers.install(app, runtime.config.base_url)
    return app


log = logging.getLogger("paperboy.web")
# Seconds a client is asked to wait after a 503; a lock held this long is already rare.
RETRY_AFTER = 30


def store_busy(error: Exception):
    """The database was locked past its busy timeout, out of reach or stopped a statement: 503
    and a time to come back, not a 500 (the request's transaction was rolled back)."""
    if not (isinstance(error, store.StoreError) or store.is_busy(error)):
        raise error
    log.warning(
        "web: database busy or unreachable: %s", error if isinstance(error, store.StoreError) else store.describe(error)
    )
    page = ServiceUnavailable(
        description="paperboy's database is busy or out of reach right now, "
        "so nothing was changed. Please try again in a minute."
    )
    return render_template("error.html", error=page), 503, {"Retry-After": str(RETRY_AFTER)}


def csrf_refused(error: CSRFError):
    """A form posted without its security token: most often a page left open too long."""
    text = "This form's security token (CSRF) is missing or no longer valid. Please reload the page and try again."
    return render_template("subscribers/message.html", title="Form expired", text=text, link=None), 400
