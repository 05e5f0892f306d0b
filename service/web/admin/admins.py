"""Admins managing admins: invite by address, see each one's sign-ins, remove one (their sessions
end); and, open to visitors, "forgot password" and the page a mailed link opens to set one."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_limiter.util import get_remote_address
from werkzeug.security import generate_password_hash

from service.store import mail_queue, write_transaction
from service.store.subscribers import admins as admin_store
from service.store.subscribers import audit
from service.web.admin.auth import current_admin, login_required, sign_in, signed_in_admin
from service.web.extensions import current_runtime
from service.web.rate_limits import SIGN_IN_ADDRESS_LIMIT, SIGN_IN_LIMIT, limiter
from subscribers import admin_access
from subscribers.addresses import AddressError, normalize_address

blueprint = Blueprint("admins", __name__, url_prefix="/admin")

MAX_ID = 2**31 - 1
FORGOT_ANSWER = (
    "If that address belongs to an admin, a link to set a new password is on its way. It works once, for an hour."
)


@blueprint.get("/admins/")
@login_required
def admins():
    with current_runtime().engine.connect() as conn:
        found = admin_store.all_admins(conn)
    return render_template("admin/admins.html", admins=found, admin=current_admin(), invited=admin_store.INVITED)


@blueprint.post("/admins/invite")
@login_required
def invite():
    runtime = current_runtime()
    try:
        email = normalize_address(request.form.get("email", ""))
    except AddressError as error:
        flash(f"{error}; nobody was invited.", "error")
        return redirect(url_for("admins.admins"))
    now = runtime.clock()
    with write_transaction(runtime.engine) as conn:
        if admin_store.admin_by_email(conn, email) is not None:
            flash(f"{email} is an admin already; nobody was invited.", "error")
            return redirect(url_for("admins.admins"))
        admin_store.create_admin(conn, email, admin_store.INVITED, now)
        mail_id = mail_queue.queue_admin_mail(conn, mail_queue.ADMIN_INVITE, email, now)
        audit.record_audit(conn, now, signed_in_admin().email, "admin-invite", None, f"{email}; mail {mail_id}")
    flash(f"Invitation queued for {email}: the link in it sets their password.", "ok")
    return redirect(url_for("admins.admins"))


def _admin_or_404(conn, admin_id: int) -> admin_store.Admin:
    found = admin_store.admin_by_id(conn, admin_id)
    if found is None:
        abort(404)
    return found


@blueprint.get(f"/admins/<int(max={MAX_ID}):admin_id>")
@login_required
def admin_page(admin_id: int):
    with current_runtime().engine.connect() as conn:
        found = _admin_or_404(conn, admin_id)
        history = admin_store.sign_ins(conn, admin_id)
    return render_template(
        "admin/admin.html", shown=found, history=history, admin=current_admin(), invited=admin_store.INVITED
    )


@blueprint.post(f"/admins/<int(max={MAX_ID}):admin_id>/remove")
@login_required
def remove(admin_id: int):
    runtime = current_runtime()
    me = signed_in_admin()
    if admin_id == me.id:
        flash("You cannot remove yourself; ask another admin.", "error")
        return redirect(url_for("admins.admin_page", admin_id=admin_id))
    if request.form.get("confirm") != "yes":
        flash("Tick the box to confirm; nothing changed.", "error")
        return redirect(url_for("admins.admin_page", admin_id=admin_id))
    with write_transaction(runtime.engine) as conn:
        found = _admin_or_404(conn, admin_id)
        admin_store.remove_admin(conn, admin_id)
        audit.record_audit(conn, runtime.clock(), me.email, "admin-remove", None, found.email)
    flash(f"{found.email} is no longer an admin; their sessions have ended.", "ok")
    return redirect(url_for("admins.admins"))


@blueprint.get("/forgot")
def forgot_form():
    return render_template("admin/forgot.html", answer=None)


def _forgot_address() -> str:
    return "forgot:" + request.form.get("email", "").strip().lower()[:320] + ":" + get_remote_address()


@blueprint.post("/forgot")
@limiter.limit(SIGN_IN_LIMIT)
@limiter.limit(SIGN_IN_ADDRESS_LIMIT, key_func=_forgot_address)
def forgot_submit():
    """The same answer for every address; only an admin's gets a mail."""
    runtime = current_runtime()
    email = request.form.get("email", "").strip().lower()[:320]
    now = runtime.clock()
    with write_transaction(runtime.engine) as conn:
        found = admin_store.admin_by_email(conn, email) if email else None
        if found is not None:
            mail_queue.queue_admin_mail(conn, mail_queue.ADMIN_RESET, found.email, now)
            audit.record_audit(conn, now, found.email, "admin-reset-mail", None, get_remote_address())
    return render_template("admin/forgot.html", answer=FORGOT_ANSWER)


def _valid_link(token: str) -> tuple[admin_store.Admin | None, str]:
    """The admin a password link is for, or None and why not."""
    runtime = current_runtime()
    try:
        _, email, mark = admin_access.read_password_token(runtime.config, token, runtime.clock())
    except admin_access.AccessError as error:
        return None, str(error)
    with runtime.engine.connect() as conn:
        found = admin_store.admin_by_email(conn, email)
    if found is None or admin_access.fingerprint(found.password_hash) != mark:
        return None, "This link was used already, or a newer password was set since; ask for a new one."
    return found, ""


@blueprint.get("/password/<token>")
def password_form(token: str):
    found, error = _valid_link(token)
    if found is None:
        return render_template("admin/password.html", error=error, email=None, token=token), 400
    return render_template("admin/password.html", error=None, email=found.email, token=token)


@blueprint.post("/password/<token>")
@limiter.limit(SIGN_IN_LIMIT)
def password_submit(token: str):
    runtime = current_runtime()
    found, error = _valid_link(token)
    if found is None:
        return render_template("admin/password.html", error=error, email=None, token=token), 400
    password = request.form.get("password", "")
    if problem := admin_access.check_password(password, request.form.get("again", "")):
        return render_template("admin/password.html", error=problem, email=found.email, token=token), 400
    with write_transaction(runtime.engine) as conn:
        again = admin_store.admin_by_email(conn, found.email)
        # Checked again under the write lock: of two tabs posting one link, one wins.
        if again is None or again.password_hash != found.password_hash:
            return render_template(
                "admin/password.html", error="This link was used already.", email=None, token=token
            ), 400
        admin_store.set_admin_password(conn, found.id, generate_password_hash(password))
        admin_store.record_sign_in(conn, found.id, runtime.clock(), get_remote_address(), "password-set")
        audit.record_audit(conn, runtime.clock(), found.email, "admin-password", None, "set through a mailed link")
        fresh = admin_store.admin_by_id(conn, found.id)
    if fresh is not None:
        sign_in(fresh)
    flash("Your password is set; you are signed in.", "ok")
    return redirect(url_for("admin.subscribers"))
