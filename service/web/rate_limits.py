"""Every rate limit of the web app in one place: the limiter, where its counters live, and the
limits the routes declare (sign-up, admin sign-in, search). Feeds and pages have none."""

from __future__ import annotations

from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# Counters live where PAPERBOY_RATE_LIMIT_STORAGE says (limiter_settings).
limiter = Limiter(key_func=get_remote_address, default_limits=[])

SUBSCRIBE_LIMIT = "5 per minute;30 per hour"
SEARCH_LIMIT = "30 per minute;300 per hour"
SIGN_IN_LIMIT = "10 per minute;50 per hour"
# Failed attempts per admin address and client together: a guessing client is stopped, and one
# guessing from elsewhere cannot lock the real admin out of their own address.
SIGN_IN_ADDRESS_LIMIT = "20 per hour"

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
