"""Bulk actions on the subscriber list's filtered selection: a confirm page (how many, the first
20, a CSV of all), then one transaction that changes every one of them or none."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from service.model.states import SubscriberStatus
from service.store import write_transaction
from service.store.subscribers import records
from service.web.admin.auth import current_admin, login_required, signed_in_admin
from service.web.extensions import current_runtime
from subscribers import bulk
from subscribers.csv_io import neutralise

blueprint = Blueprint("bulk", __name__, url_prefix="/admin/bulk")

SHOWN = 20


def _choice(source) -> dict[str, str]:
    """The action and the list's filters from a query string or a form, unknown values dropped."""
    runtime = current_runtime()
    action = source.get("action", "")
    status = source.get("status", "")
    return {
        "action": action if action in bulk.ACTIONS else "",
        "topic": source.get("topic", "") if source.get("topic", "") in runtime.topic_slugs else "",
        "q": source.get("q", "").strip()[:320],
        "status": status if status in tuple(SubscriberStatus) else "",
        "having": source.get("having", "") if source.get("having", "") in runtime.topic_slugs else "",
    }


def _selected(conn, choice: dict[str, str]) -> list[records.Subscriber]:
    return bulk.selection(conn, choice["action"], choice["topic"], choice["q"], choice["status"], choice["having"])


def _invalid(choice: dict[str, str]) -> str | None:
    if not choice["action"]:
        return "Choose an action."
    if choice["action"] in bulk.TOPIC_ACTIONS and not choice["topic"]:
        return "Choose the topic to add or remove."
    return None


def _back(choice: dict[str, str]):
    return redirect(url_for("admin.subscribers", q=choice["q"], status=choice["status"], topic=choice["having"]))


@blueprint.get("/")
@login_required
def confirm():
    choice = _choice(request.args)
    if error := _invalid(choice):
        flash(error + " Nothing changed.", "error")
        return _back(choice)
    with current_runtime().engine.connect() as conn:
        chosen = _selected(conn, choice)
    return render_template(
        "admin/bulk_confirm.html",
        choice=choice,
        label=bulk.ACTIONS[choice["action"]],
        topic=current_runtime().topic(choice["topic"]) if choice["topic"] else None,
        count=len(chosen),
        shown=chosen[:SHOWN],
        fingerprint=bulk.fingerprint(chosen),
        admin=current_admin(),
    )


@blueprint.get("/selection.csv")
@login_required
def selection_csv():
    choice = _choice(request.args)
    with current_runtime().engine.connect() as conn:
        chosen = _selected(conn, choice) if choice["action"] else []
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "status", "topics"])
    for found in chosen:
        writer.writerow([neutralise(found.email or ""), found.status, " ".join(found.topics)])
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="paperboy-{choice["action"] or "selection"}.csv"'},
    )


@blueprint.post("/")
@login_required
def apply():
    choice = _choice(request.form)
    if error := _invalid(choice):
        flash(error + " Nothing changed.", "error")
        return _back(choice)
    again = redirect(url_for("bulk.confirm", **choice))  # type: ignore[arg-type]
    if request.form.get("confirm") != "yes":
        flash("Tick the box to confirm; nothing changed.", "error")
        return again
    runtime = current_runtime()
    try:
        with write_transaction(runtime.engine) as conn:
            chosen = _selected(conn, choice)
            if bulk.fingerprint(chosen) != request.form.get("fingerprint"):
                raise records.SubscriberError("The selection changed since you looked at it. Check it again")
            done = bulk.apply(conn, choice["action"], chosen, choice["topic"], runtime.clock(), signed_in_admin().email)
    except records.SubscriberError as error:
        # Raised inside the transaction, so whatever was done before it is rolled back.
        flash(f"{error}; nothing changed.", "error")
        return again
    flash(f"{bulk.ACTIONS[choice['action']]}: done for {done} subscribers.", "ok")
    return _back(choice)
