"""A reader's "More like this" and "Fewer like this" on a paper, from their digest or their
preferences page. The links live under the reader's signed preferences link. A GET shows the
paper with one button, because mail scanners open every link; only the POST records the vote.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request

from service.model.states import SubscriberStatus
from service.store import write_transaction
from service.store.papers import get_paper
from service.store.subscribers import votes
from service.web.extensions import current_runtime
from service.web.public.subscribe import TOKEN_ENDPOINTS, subscriber_from
from subscribers import tokens

blueprint = Blueprint("votes", __name__)

KINDS = {"more": votes.MORE, "fewer": votes.FEWER}
NAMES = {votes.MORE: "More like this", votes.FEWER: "Fewer like this"}


def _paper_page(token: str, kind: str, paper_id: str):
    subscriber, failure = subscriber_from(tokens.read_preferences_token, token)
    if failure:
        return None, None, failure
    runtime = current_runtime()
    with runtime.engine.connect() as conn:
        paper = get_paper(conn, paper_id)
        given = votes.vote_of(conn, subscriber.id, paper_id) if paper else None
    if kind not in KINDS or paper is None:
        page = render_template(
            "subscribers/message.html",
            title="Paper not found",
            text="This link names no paper paperboy holds. Please use the link from your mail.",
            link=None,
        )
        return None, None, (page, 404)
    return subscriber, (paper, given), None


@blueprint.get("/preferences/<token>/<kind>/<path:paper_id>")
def vote_page(token: str, kind: str, paper_id: str):
    subscriber, found, failure = _paper_page(token, kind, paper_id)
    if failure:
        return failure
    paper, given = found
    return render_template(
        "subscribers/vote.html", subscriber=subscriber, paper=paper, kind=kind, label=NAMES[KINDS[kind]], given=given
    )


@blueprint.post("/preferences/<token>/<kind>/<path:paper_id>")
def vote(token: str, kind: str, paper_id: str):
    subscriber, found, failure = _paper_page(token, kind, paper_id)
    if failure:
        return failure
    paper, _ = found
    runtime = current_runtime()
    undo = request.form.get("action") == "undo"
    if subscriber.status != SubscriberStatus.ACTIVE and not undo:
        page = render_template(
            "subscribers/message.html",
            title="Not subscribed",
            text="This address gets no digest, so there is nothing to rank. Subscribe again to choose topics.",
            link=("/subscribe", "Subscribe again"),
        )
        return page, 400
    with write_transaction(runtime.engine) as conn:
        if undo:
            votes.clear_vote(conn, subscriber.id, paper.id)
        else:
            votes.record_vote(conn, subscriber.id, paper.id, KINDS[kind], runtime.clock())
    if request.form.get("back") == "preferences":
        return redirect(f"/preferences/{token}#votes", code=303)
    return render_template(
        "subscribers/vote.html",
        subscriber=subscriber,
        paper=paper,
        kind=kind,
        label=NAMES[KINDS[kind]],
        given=None if undo else KINDS[kind],
        done="undone" if undo else "saved",
    )


@blueprint.after_request
def keep_tokens_private(response):
    if request.endpoint in TOKEN_ENDPOINTS | {"votes.vote_page", "votes.vote"}:
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
    return response
