"""Admin pages for subscriber lists: search, filter, sort, counts, one subscriber's history and changes."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from service.model.states import SubscriberStatus
from service.store import mail_queue, write_transaction
from service.store.subscribers import audit, lifecycle, listing, records, votes
from service.store.subscribers import preferences as preference_store
from service.web.admin.auth import current_admin, login_required, signed_in_admin
from service.web.extensions import current_runtime
from service.web.public.subscribe import preference_limits
from subscribers.erasure import erase_subscriber
from subscribers.preferences import parse_form

blueprint = Blueprint("admin", __name__, url_prefix="/admin")

PER_PAGE = 50
# Larger ids than the database's integers would overflow in the query: they simply do not exist.
MAX_ID = 2**31 - 1


def _now() -> datetime:
    return current_runtime().clock()


@blueprint.get("/")
@login_required
def subscribers():
    runtime = current_runtime()
    search = request.args.get("q", "").strip()[:320]
    status = request.args.get("status", "")
    status = status if status in tuple(SubscriberStatus) else ""
    topic = request.args.get("topic", "")
    topic = topic if runtime.topic(topic) else ""
    sort = request.args.get("sort", "email")
    sort = sort if sort.lstrip("-") in listing.SORTS else "email"
    page = request.args.get("page", 1, type=int) or 1
    with runtime.engine.connect() as conn:
        shown = listing.list_subscribers(conn, search, status, topic, sort, page, PER_PAGE)
        statuses = listing.status_counts(conn)
        topics = listing.topic_counts(conn)
    return render_template(
        "admin/subscribers.html",
        listing=shown,
        statuses=statuses,
        topic_counts=topics,
        topics=runtime.topics,
        q=search,
        status=status,
        topic=topic,
        sort=sort,
        admin=current_admin(),
    )


def _subscriber_or_404(conn, subscriber_id: int) -> records.Subscriber:
    found = records.get_subscriber(conn, subscriber_id)
    if found is None:
        abort(404)
    return found


@blueprint.get(f"/subscribers/<int(max={MAX_ID}):subscriber_id>")
@login_required
def subscriber(subscriber_id: int):
    return _subscriber_page(subscriber_id)


def _subscriber_page(subscriber_id: int, values=None, error: str | None = None):
    runtime = current_runtime()
    with runtime.engine.connect() as conn:
        found = _subscriber_or_404(conn, subscriber_id)
        history = audit.audit_entries(conn, subscriber_id)
        mails = mail_queue.mails_of(conn, subscriber_id)
        values = values or preference_store.get_preferences(conn, subscriber_id)
        vote_count = votes.vote_count(conn, subscriber_id)
    return render_template(
        "admin/subscriber.html",
        subscriber=found,
        history=history,
        mails=mails,
        topics=runtime.topics,
        admin=current_admin(),
        values=values,
        vote_count=vote_count,
        error=error,
        **preference_limits(),
    ), 400 if error else 200


@blueprint.post(f"/subscribers/<int(max={MAX_ID}):subscriber_id>/preferences")
@login_required
def change_preferences(subscriber_id: int):
    preferences, typed, error = parse_form(request.form)
    if error or preferences is None:
        return _subscriber_page(subscriber_id, typed, error)
    return _change(
        subscriber_id,
        lambda conn, actor: preference_store.set_preferences(conn, subscriber_id, preferences, _now(), actor),
        "Email preferences saved.",
    )


@blueprint.post(f"/subscribers/<int(max={MAX_ID}):subscriber_id>/topics")
@login_required
def change_topics(subscriber_id: int):
    runtime = current_runtime()
    chosen = set(request.form.getlist("topics"))
    unknown = sorted(chosen - set(runtime.topic_slugs))
    if unknown:
        flash(f"Unknown topic {unknown[0][:80]!r}; nothing changed.", "error")
        return redirect(url_for("admin.subscriber", subscriber_id=subscriber_id))
    return _change(
        subscriber_id,
        lambda conn, actor: lifecycle.change_topics(conn, subscriber_id, sorted(chosen), _now(), actor),
        "Topics saved.",
    )


def _unconfirmed(subscriber_id: int, what: str):
    """Danger actions need their box ticked (checked here too, not only by the browser)."""
    if request.form.get("confirm") == "yes":
        return None
    flash(f"Tick the box to confirm that you want to {what} this subscriber; nothing changed.", "error")
    return redirect(url_for("admin.subscriber", subscriber_id=subscriber_id))


@blueprint.post(f"/subscribers/<int(max={MAX_ID}):subscriber_id>/block")
@login_required
def block(subscriber_id: int):
    if refused := _unconfirmed(subscriber_id, "block"):
        return refused
    return _change(
        subscriber_id,
        lambda conn, actor: lifecycle.block(conn, subscriber_id, _now(), actor),
        "Subscriber blocked: no more mail, and the address cannot subscribe again.",
    )


@blueprint.post(f"/subscribers/<int(max={MAX_ID}):subscriber_id>/delete")
@login_required
def delete(subscriber_id: int):
    if refused := _unconfirmed(subscriber_id, "delete"):
        return refused
    return _change(
        subscriber_id,
        lambda conn, actor: erase_subscriber(conn, subscriber_id, _now(), actor),
        "Subscriber deleted: the address is erased; the history and counts remain.",
    )


def _change(subscriber_id: int, action, done: str):
    with write_transaction(current_runtime().engine) as conn:
        _subscriber_or_404(conn, subscriber_id)
        try:
            action(conn, signed_in_admin().email)
        except records.SubscriberError as error:
            flash(str(error), "error")
            return redirect(url_for("admin.subscriber", subscriber_id=subscriber_id))
    flash(done, "ok")
    return redirect(url_for("admin.subscriber", subscriber_id=subscriber_id))
