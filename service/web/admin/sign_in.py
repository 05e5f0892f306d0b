"""Admin sign-in and sign-out pages (rate limited; the session is cleared on sign-in)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_limiter.util import get_remote_address
from werkzeug.security import check_password_hash, generate_password_hash

from service.store import write_transaction
from service.store.subscribers import admins
from service.web.admin.auth import sign_in, sign_out
from service.web.extensions import current_runtime
from service.web.rate_limits import SIGN_IN_ADDRESS_LIMIT, SIGN_IN_LIMIT, limiter

blueprint = Blueprint("sign_in", __name__, url_prefix="/admin")

# Checked when the address is unknown, so a wrong address takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("paperboy-no-such-admin")


def _safe_next(target: str | None) -> str:
    """Only paths inside /admin: never send a signed-in admin to another host."""
    if (
        target
        and target.startswith("/admin")
        and not target.startswith("//")
        and "\\" not in target
        and not any(ord(char) < 32 or ord(char) == 127 for char in target)
    ):
        # Control characters would break the Location header (and browsers drop some of them).
        return target
    return url_for("admin.subscribers")


@blueprint.get("/sign-in")
def sign_in_form():
    return render_template("admin/sign_in.html", error=None, email="", next=request.args.get("next", ""))


def _submitted_address() -> str:
    return "sign-in:" + request.form.get("email", "").strip().lower()[:320] + ":" + get_remote_address()


@blueprint.post("/sign-in")
@limiter.limit(SIGN_IN_LIMIT)
@limiter.limit(
    SIGN_IN_ADDRESS_LIMIT, key_func=_submitted_address, deduct_when=lambda response: response.status_code == 401
)
def sign_in_submit():
    email = request.form.get("email", "").strip().lower()
    password = request.form.get("password", "")
    runtime = current_runtime()
    with runtime.engine.connect() as conn:
        admin = admins.admin_by_email(conn, email) if email and len(email) <= 320 else None
    valid = check_password_hash(admin.password_hash if admin else _DUMMY_HASH, password)
    if admin is not None:
        with write_transaction(runtime.engine) as conn:
            admins.record_sign_in(
                conn, admin.id, runtime.clock(), get_remote_address(), "signed-in" if valid else "wrong-password"
            )
    if not (admin and valid):
        return render_template(
            "admin/sign_in.html",
            error="Wrong email address or password.",
            email=email[:320],
            next=request.form.get("next", ""),
        ), 401
    sign_in(admin)
    return redirect(_safe_next(request.form.get("next")))


@blueprint.post("/sign-out")
def sign_out_submit():
    sign_out()
    return redirect(url_for("sign_in.sign_in_form"))
