"""How much one request may send, which ids an address may hold, and who the client is.

Every request body is bounded by MAX_CONTENT_LENGTH, checked against Content-Length before a
byte of the body is read (and while reading a chunked one); routes that take files have their
own, larger bound. A refused body gets 413 and a page saying how large it was and what fits.
A NUL character in a query or form gets 400."""

from __future__ import annotations

from flask import Flask, abort, render_template, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from service.store import schema

# Forms carry an address and a few topics; 64 KiB is far more than any of them needs.
MAX_CONTENT_LENGTH = 64 * 1024
# A CSV of subscribers through the admin page: 5 MiB is about 120,000 rows, imported well
# within a worker's timeout. Larger lists go through `paperboy subscribers import FILE.csv`.
ROUTE_LIMITS = {"admin_csv.import_preview": 5 * 1024 * 1024}
# Largest id a database row can have: a larger number in an address is no row, not an error.
MAX_ID = schema.MAX_ID


class BoundedInt(IntegerConverter):
    """<int:...> in every route, bounded to what the database can hold: past it, 404."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def install(app: Flask, proxies: int = 0) -> None:
    """Bound request bodies per route and ids in addresses; call it before the blueprints,
    whose routes use the bounded ids. Behind
    `proxies` trusted reverse proxies, the client is the one their X-Forwarded-For names."""
    app.url_map.converters["int"] = BoundedInt
    app.config["MAX_CONTENT_LENGTH"] = max(MAX_CONTENT_LENGTH, *ROUTE_LIMITS.values())
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    app.before_request(_bound_body)
    app.before_request(_refuse_nul)  # after the bound: it reads the form
    app.register_error_handler(413, _too_large)


def _bound_body() -> None:
    request.max_content_length = ROUTE_LIMITS.get(request.endpoint or "", MAX_CONTENT_LENGTH)


# Search reads its query as words, and a NUL is no part of one: it answers with a page, as for
# any other byte.
NUL_READERS = {"search.search"}


def _refuse_nul() -> None:
    """400 for a NUL character in a query or form: no text of paperboy holds one, and PostgreSQL
    refuses it in any text column (a 500 for a search or a sign-in). Routes check their own address."""
    if request.endpoint in NUL_READERS:
        return
    pairs = list(request.args.items(multi=True))
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        pairs += request.form.items(multi=True)
    if any("\x00" in name or "\x00" in value for name, value in pairs):
        abort(400, description="A NUL character is not allowed in a query or a form.")


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{size / 1024:.0f} KB"


def _too_large(_error):
    limit = ROUTE_LIMITS.get(request.endpoint or "", MAX_CONTENT_LENGTH)
    sent = request.content_length
    text = (
        f"This request is {_megabytes(sent)}; this page accepts at most {_megabytes(limit)}."
        if sent
        else f"This request is larger than this page accepts ({_megabytes(limit)} at most)."
    )
    if request.endpoint in ROUTE_LIMITS:
        text += " Split the file, or import it on the server with `paperboy subscribers import FILE.csv`."
    # The rest of an oversized body is never read: the connection closes after this answer.
    return (
        render_template("subscribers/message.html", title="Request too large", text=text, link=None),
        413,
        {"Connection": "close"},
    )
