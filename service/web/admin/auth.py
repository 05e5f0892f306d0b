"""Admin sign-in state: `login_required` for admin views and `current_admin()` for templates and code.

The session holds only the admin's id and session epoch; every request re-reads the admin row, so
deleting an admin, or their signing out anywhere, ends their sessions at once.
"""

from __future__ import annotations

from functools import wraps

from flask import g, redirect, request, session, url_for

from service.store import write_transaction
from service.store.subscribers import admins
from service.web.extensions import current_runtime


def current_admin() -> admins.Admin | None:
    """The signed-in admin for this request, or None."""
    if "paperboy_admin" not in g:
        admin = None
        admin_id = session.get("admin_id")
        if isinstance(admin_id, int):
            runtime = current_runtime()
            with runtime.engine.connect() as conn:
                admin = admins.admin_by_id(conn, admin_id)
            if admin is not None and session.get("admin_epoch") != admin.session_epoch:
                admin = None  # the admin signed out since this session began
        g.paperboy_admin = admin
    admin_or_none: admins.Admin | None = g.paperboy_admin
    return admin_or_none


def signed_in_admin() -> admins.Admin:
    """The admin of a view behind `login_required`, who is there by then."""
    admin = current_admin()
    if admin is None:
        raise RuntimeError("signed_in_admin() outside a login_required view")
    return admin


def sign_in(admin: admins.Admin) -> None:
    """Start a fresh session for `admin` (cleared first, so no earlier state carries over)."""
    session.clear()
    session["admin_id"] = admin.id
    session["admin_epoch"] = admin.session_epoch
    g.paperboy_admin = admin


def sign_out() -> None:
    """End this session and every other one of the same admin (a copied cookie included)."""
    admin = current_admin()
    if admin is not None:
        with write_transaction(current_runtime().engine) as conn:
            admins.end_admin_sessions(conn, admin.id)
    session.clear()
    g.paperboy_admin = None


def _refuse_visitor():
    if request.method in ("GET", "HEAD"):
        return redirect(url_for("sign_in.sign_in_form", next=request.full_path.rstrip("?")))
    return "admin: sign in first", 403


def login_required(view):
    """Send visitors who are not signed in to the sign-in page (403 for non-GET requests)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_admin() is None:
            return _refuse_visitor()
        return view(*args, **kwargs)

    return wrapped


# The only pages under /admin that a visitor may reach.
OPEN_ENDPOINTS = frozenset(
    {
        "sign_in.sign_in_form",
        "sign_in.sign_in_submit",
        "sign_in.sign_out_submit",
        "admins.forgot_form",
        "admins.forgot_submit",
        "admins.password_form",
        "admins.password_submit",
    }
)


def close_admin_to_visitors():
    """Before every request: anything under /admin except signing in needs an admin, so a view
    that another blueprint adds there without `login_required` is still closed."""
    path = request.path
    admin_path = path == "/admin" or path.startswith("/admin/")
    if admin_path and request.endpoint not in OPEN_ENDPOINTS and current_admin() is None:
        return _refuse_visitor()
    return None


def keep_admin_pages_out_of_caches(response):
    """After every request: nothing under /admin is stored by a browser or a proxy."""
    if request.path == "/admin" or request.path.startswith("/admin/"):
        response.headers["Cache-Control"] = "no-store"
    return response
