"""Headers every answer carries, and the host names the app answers to.

Pages run no script of their own, so the policy allows none at all (and nothing inline); styles
may be inline because a digest in the browser is the email's own HTML. Admin pages may not be
framed anywhere. Redirects and absolute links are built from the request's Host only when it is
PAPERBOY_BASE_URL's host (or loopback, for an operator on the machine itself)."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.sansio.utils import host_is_trusted

POLICY = (
    "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
)
LOOPBACK = ["localhost", "127.0.0.1", "::1"]


def _headers(ancestors: str) -> list[tuple[str, str]]:
    return [
        ("Content-Security-Policy", POLICY.format(ancestors=ancestors)),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ]


PUBLIC_HEADERS = _headers("'self'")
ADMIN_HEADERS = [*_headers("'none'"), ("X-Frame-Options", "DENY")]


def install(app: Flask, base_url: str) -> None:
    """Trusted hosts from `base_url` and the security headers; call it
    after the blueprints, so that answers served from the render cache carry the headers too."""
    # The check is this layer's alone, not Flask's TRUSTED_HOSTS as well: Werkzeug's matching
    # cannot name an IPv6 address ("[::1]"), so Flask would refuse what this layer lets through.
    app.wsgi_app = SecurityHeaders(app.wsgi_app, [urlsplit(base_url).hostname or "localhost", *LOOPBACK])


class SecurityHeaders:
    """WSGI layer adding the headers an answer does not set itself (token pages set a stricter
    Referrer-Policy), and answering 400 at once to a Host that is not ours."""

    def __init__(self, wsgi_app, trusted: list[str]):
        self.wsgi_app = wsgi_app
        self.names = [name for name in trusted if ":" not in name]
        self.addresses = {ipaddress.ip_address(name) for name in trusted if ":" in name}

    def trusts(self, host: str) -> bool:
        """Whether a Host header ("name", "name:port", "[v6 address]:port") names this server."""
        if host.startswith("["):
            literal, _, rest = host[1:].partition("]")
            try:
                address = ipaddress.ip_address(literal)
            except ValueError:
                return False
            return address in self.addresses and (rest == "" or re.fullmatch(r":[0-9]{1,5}", rest) is not None)
        return host_is_trusted(host, self.names)

    def __call__(self, environ, start_response):
        host = environ.get("HTTP_HOST")
        # An empty Host names no server at all: links built from it would point nowhere.
        if host is not None and not (host and self.trusts(host)):
            body = b"Unknown host: this server answers for its PAPERBOY_BASE_URL only.\n"
            start_response(
                "400 Bad Request",
                [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))), *PUBLIC_HEADERS],
            )
            return [body]
        extra = ADMIN_HEADERS if environ.get("PATH_INFO", "").startswith("/admin") else PUBLIC_HEADERS

        def start(status, headers, exc_info=None):
            present = {name.lower() for name, _ in headers}
            # A new list: cached answers share theirs between requests.
            return start_response(status, [*headers, *(h for h in extra if h[0].lower() not in present)], exc_info)

        return self.wsgi_app(environ, start)
