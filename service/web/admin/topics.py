"""Topics in the browser: list, add, edit (after a preview of what the query lists) and retire.
Every process reads the change from the store within seconds (Runtime.all_topics)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from service.model.topics import MAX_EXEMPLARS, Topic, TopicsError, parse_topic
from service.store import topics as topic_store
from service.store import write_transaction
from service.store.subscribers import audit, listing
from service.web.admin.auth import current_admin, login_required, signed_in_admin
from service.web.admin.topic_preview import DAYS, preview
from service.web.extensions import current_runtime

blueprint = Blueprint("topics_admin", __name__, url_prefix="/admin/topics")


def _split(text: str) -> list[str]:
    return [item for item in text.replace(",", " ").split() if item]


def _from_form(form) -> tuple[Topic | None, str | None]:
    entry = {
        "slug": form.get("slug", "")[:64],
        "title": form.get("title", "")[:300],
        "description": form.get("description", "")[:2000],
        "query": form.get("query", "")[:2000],
        "categories": _split(form.get("categories", "")[:1000]),
        "exemplars": _split(form.get("exemplars", "")[:1000]),
    }
    try:
        return parse_topic(entry, "topic"), None
    except TopicsError as error:
        return None, str(error).removeprefix("topic: ")


def _form(topic: Topic | None, values: dict[str, str], editing: bool, error=None, shown=None, status=200):
    return render_template(
        "admin/topic_form.html",
        values=values,
        editing=editing,
        error=error,
        shown=shown,
        topic=topic,
        days=DAYS,
        max_exemplars=MAX_EXEMPLARS,
        admin=current_admin(),
    ), status


def _values(topic: Topic) -> dict[str, str]:
    return {
        "slug": topic.slug,
        "title": topic.title,
        "description": topic.description,
        "query": topic.query,
        "categories": " ".join(topic.categories),
        "exemplars": " ".join(topic.exemplars),
    }


@blueprint.get("/")
@login_required
def list_topics():
    runtime = current_runtime()
    with runtime.engine.connect() as conn:
        in_store = bool(topic_store.stamp(conn)[0])
        counts = listing.topic_counts(conn)
    return render_template(
        "admin/topics.html",
        topics=runtime.all_topics(),
        counts=counts,
        in_store=in_store,
        topics_file=runtime.config.topics_file,
        admin=current_admin(),
    )


@blueprint.get("/new")
@login_required
def new():
    return _form(None, {}, editing=False)


@blueprint.get("/<slug>/edit")
@login_required
def edit(slug: str):
    topic = current_runtime().topic(slug)
    if topic is None:
        abort(404)
    return _form(topic, _values(topic), editing=True)


def _checked(form) -> tuple[Topic | None, dict[str, str], bool, str | None]:
    """The topic the form describes, its typed values, whether it edits one, and what is wrong."""
    values = {key: form.get(key, "") for key in ("slug", "title", "description", "query", "categories", "exemplars")}
    editing = form.get("editing") == "yes"
    topic, error = _from_form(form)
    if topic is not None:
        known = current_runtime().topic(topic.slug)
        if editing and known is None:
            error = f"there is no topic {topic.slug!r} to change"
        elif not editing and known is not None:
            error = f"a topic with the slug {topic.slug!r} exists already; edit it instead"
    return topic, values, editing, error


@blueprint.post("/preview")
@login_required
def show_preview():
    topic, values, editing, error = _checked(request.form)
    if topic is None or error:
        return _form(None, values, editing, error=error, status=400)
    return _form(topic, values, editing, shown=preview(current_runtime(), topic))


@blueprint.post("/save")
@login_required
def save():
    topic, values, editing, error = _checked(request.form)
    if topic is None or error:
        return _form(None, values, editing, error=error, status=400)
    runtime = current_runtime()
    now = runtime.clock()
    with write_transaction(runtime.engine) as conn:
        if not topic_store.stamp(conn)[0]:
            # The first change in the browser: the file's topics come into the store first.
            topic_store.import_all(conn, runtime.file_topics(), now)
        before = next((t for t in topic_store.load(conn) if t.slug == topic.slug), None)
        topic_store.save(conn, topic, now)
        audit.record_audit(
            conn, now, signed_in_admin().email, "topic-edit" if before else "topic-add", None, _describe(before, topic)
        )
    runtime.forget_topics()
    flash(f"Topic {topic.slug} saved; every page and job uses it within a few seconds.", "ok")
    return redirect(url_for("topics_admin.list_topics"))


def _describe(before: Topic | None, after: Topic) -> str:
    """The audit log's detail: the fields that changed (all of them for a new topic)."""
    fields = ("title", "description", "query", "categories", "exemplars")
    changed = [name for name in fields if before is None or getattr(before, name) != getattr(after, name)]
    parts = [f"{name}: {getattr(after, name)!r}" for name in changed]
    return f"{after.slug}; " + "; ".join(parts)[:1800]


@blueprint.post("/<slug>/retire")
@login_required
def retire(slug: str):
    runtime = current_runtime()
    if request.form.get("confirm") != "yes":
        flash("Tick the box to confirm; nothing changed.", "error")
        return redirect(url_for("topics_admin.edit", slug=slug))
    now = runtime.clock()
    with write_transaction(runtime.engine) as conn:
        if not topic_store.stamp(conn)[0]:
            topic_store.import_all(conn, runtime.file_topics(), now)
        if not topic_store.retire(conn, slug, now):
            abort(404)
        audit.record_audit(conn, now, signed_in_admin().email, "topic-retire", None, slug)
    runtime.forget_topics()
    flash(
        f"Topic {slug} retired: no more fetches or sign-ups; its pages and feeds stay, and its readers "
        "are told in their next digest.",
        "ok",
    )
    return redirect(url_for("topics_admin.list_topics"))
