"""What every blueprint shares: CSRF protection and the request's Runtime.

A leaf: it imports no blueprint, so the blueprints import it and create_app() imports them all
at the top of service/web/__init__.py without a cycle. Rate limits are in rate_limits.py.
"""

from __future__ import annotations

from flask import current_app
from flask_wtf.csrf import CSRFProtect

from service.runtime import Runtime

csrf = CSRFProtect()


def current_runtime() -> Runtime:
    """The Runtime of the app handling the current request."""
    return current_app.extensions["paperboy"]
