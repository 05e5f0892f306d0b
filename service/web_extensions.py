"""The Flask extensions every blueprint shares (CSRF, rate limits) and the request's Runtime.

A leaf: it imports no blueprint, so blueprints in service/ and subscribers/ import it and
create_app() imports them all at the top of service/web/__init__.py without a cycle (it lives
outside service/web/ so that importing it never runs that package first).
"""

from __future__ import annotations

from flask import current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

from service.runtime import Runtime

csrf = CSRFProtect()
# Limits are declared on the routes that need them (subscribe, sign-in, search); their counters
# live where PAPERBOY_RATE_LIMIT_STORAGE says (limiter_settings).
limiter = Limiter(key_func=get_remote_address, default_limits=[])

# Blueprints that declare no rate limits. Flask-Limiter still inspects every request, which
# costs more than answering a cached feed; this filter lets it skip them at once.
UNLIMITED_BLUEPRINTS = frozenset({"pages", "feeds", "health"})


def limiter_settings(storage_uri: str) -> dict:
    """Flask settings for the limiter: counters in `storage_uri`, memory:// (per process) or
    redis://... (shared by every process and machine, Flask-Limiter's own Redis backend)."""
    return {
        "RATELIMIT_STORAGE_URI": storage_uri,
        # Should Redis stop answering, each process counts on its own meanwhile rather than fail.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    }


@limiter.request_filter
def _without_limits() -> bool:
    return request.blueprint in UNLIMITED_BLUEPRINTS


def current_runtime() -> Runtime:
    """The Runtime of the app handling the current request."""
    return current_app.extensions["paperboy"]
