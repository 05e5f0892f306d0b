"""Digests on the web: past digests in public at /digests/<id>, and the admin pages (list,
delivery counts, preview of the email)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from service.digest.digest import DigestError, browser_selection, digest_by_id, last_complete_week, preview
from service.digest.queue import queue_digest
from service.model.text import counted
from service.model.weeks import week_bounds
from service.store import deliveries as ledger
from service.store import digests as digest_store
from service.web.admin.auth import login_required
from service.web.extensions import current_runtime

blueprint = Blueprint("digests", __name__)
HOME_DIGESTS = 12


@blueprint.app_context_processor
def digest_globals():
    # The home page includes digest_list.html, which calls this to list past digests.
    def past_digests(limit: int = HOME_DIGESTS):
        with current_runtime().engine.connect() as conn:
            return digest_store.list_digests(conn, limit)

    return {"past_digests": past_digests}


@blueprint.get("/digests/<int:digest_id>")
def show(digest_id: int):
    runtime = current_runtime()
    with runtime.engine.connect() as conn:
        digest = digest_by_id(conn, digest_id)
        if digest is None:
            abort(404)
        # What the email holds, not every paper of the week: the week pages hold the rest.
        selection = browser_selection(conn, runtime.config, digest, runtime.topics)
    start, end = week_bounds(digest.week)
    return render_template(
        "digest.html", digest=digest, selection=selection, week_start=start, week_end=end - timedelta(days=1)
    )


@blueprint.get("/admin/digests")
@login_required
def admin_list():
    runtime = current_runtime()
    with runtime.engine.connect() as conn:
        rows = [(row, papers, ledger.delivery_counts(conn, row.id)) for row, papers in digest_store.list_digests(conn)]
    return render_template(
        "digest_admin_list.html",
        rows=rows,
        topics=runtime.topics,
        default_week=last_complete_week(current_runtime().clock()),
    )


@blueprint.get("/admin/digests/<int:digest_id>")
@login_required
def admin_show(digest_id: int):
    runtime = current_runtime()
    state = request.args.get("state") or None
    if state is not None and state not in ledger.STATES:
        abort(400)
    with runtime.engine.connect() as conn:
        row = digest_store.get_digest(conn, digest_id)
        if row is None:
            abort(404)
        counts = ledger.delivery_counts(conn, digest_id)
        listed = ledger.list_deliveries(conn, digest_id, state)
    return render_template(
        "digest_admin.html", digest=row, counts=counts, deliveries=listed, state=state, topics=runtime.topics
    )


@blueprint.get("/admin/digests/preview")
@login_required
def admin_preview():
    """The email for a week and a set of topics, as HTML (default) or as the text part."""
    runtime = current_runtime()
    now = current_runtime().clock()
    week = request.args.get("week") or last_complete_week(now)
    slugs = [s for s in request.args.getlist("topics") for s in s.split(",") if s] or None
    try:
        week_bounds(week)
        result = preview(runtime.engine, runtime.config, runtime.topics, week, slugs, now)
    except (ValueError, DigestError) as error:
        return render_template("digest_admin_error.html", error=str(error)), 400
    if request.args.get("format") == "text":
        return Response(result.text, mimetype="text/plain")
    response = Response(result.html, mimetype="text/html")
    # The preview is a whole email document: keep it from running anything or being framed elsewhere.
    response.headers["Content-Security-Policy"] = "script-src 'none'; frame-ancestors 'self'"
    return response


@blueprint.post("/admin/digests/send")
@login_required
def admin_send():
    """Write the send ledger for a week; the scheduler's delivery sweep sends it within minutes."""
    runtime = current_runtime()
    now = current_runtime().clock()
    week = request.form.get("week", "").strip() or last_complete_week(now)
    try:
        week_bounds(week)
        queued = queue_digest(runtime, week, now)
    except (ValueError, DigestError) as error:
        flash(str(error), "error")
        return redirect(url_for(".admin_list"))
    flash(
        f"{week}: {counted(queued.added, 'new delivery', 'new deliveries')} queued; the scheduler sends what is due every few minutes "
        f"(or run: paperboy digest send --week {week}).",
        "ok",
    )
    return redirect(url_for(".admin_show", digest_id=queued.digest.id))
