"""The admin pages of inbound mail: the log of what came back (bounces, complaints, mailto
unsubscribes, auto-replies, the rest) with counts per kind, and each kept message."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from service.store import inbound as inbound_store
from service.web.admin.auth import current_admin, login_required
from service.web.extensions import current_runtime

blueprint = Blueprint("inbound", __name__, url_prefix="/admin/inbound")

PER_PAGE = 50
MAX_ID = 2**31 - 1


@blueprint.get("/")
@login_required
def log():
    kind = request.args.get("kind", "")
    kind = kind if kind in inbound_store.KINDS else ""
    page = request.args.get("page", 1, type=int) or 1
    with current_runtime().engine.connect() as conn:
        counts = inbound_store.kind_counts(conn)
        messages, total, page = inbound_store.list_messages(conn, kind, page, PER_PAGE)
    return render_template(
        "admin/inbound.html",
        counts=counts,
        messages=messages,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        kind=kind,
        admin=current_admin(),
    )


@blueprint.get(f"/<int(max={MAX_ID}):message_id>")
@login_required
def message(message_id: int):
    with current_runtime().engine.connect() as conn:
        found = inbound_store.get_message(conn, message_id)
    if found is None:
        abort(404)
    text = found.raw.decode("utf-8", "replace") if found.raw is not None else None
    return render_template(
        "admin/inbound_message.html", message=found, text=text, kept=inbound_store.RAW_KEPT, admin=current_admin()
    )
