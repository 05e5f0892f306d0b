"""A reader's "More like this" and "Fewer like this" on a paper, from their digest or their
preferences page. The links live under the reader's signed preferences link. A GET shows the
paper with one button, because mail scanners open every link; only the POST records the vote.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, redirect, render_template, request

from service.model.paper import Paper
from service.model.states import SubscriberStatus
from service.store import write_transaction
from service.store.papers import get_paper
from service.store.subscribers import votes
from service.store.subscribers.records import Subscriber
from service.web.extensions import current_runtime
from service.web.public.subscribe import keep_token_private, subscriber_from
from subscribers import tokens

blueprint = Blueprint("votes", __name__)

KINDS = {"more": votes.MORE, "fewer": votes.FEWER}
NAMES = {votes.MORE: "More like this", votes.FEWER: "Fewer like this"}


@dataclass(frozen=True)
class _Asked:
    subscriber: Subscriber
    paper: Paper
    given: int | None  # the reader's vote on the paper before this request


def _asked(token: str, kind: str, paper_id: str) -> _Asked | tuple[str, int]:
    """The reader and paper a vote link names, or the page to answer instead."""
    subscriber, failure = subscriber_from(tokens.read_preferences_token, token)
    if failure:
        return failure
    with current_runtime().engine.connect() as conn:
        paper = get_paper(conn, paper_id)
        given = votes.vote_of(conn, subscriber.id, paper_id) if paper else None
    if kind not in KINDS or paper is None:
        page = render_template(
            "subscribers/message.html",
            title="Paper not found",
            text="This link names no paper paperboy holds. Please use the link from your mail.",
            link=None,
        )
        return page, 404
    return _Asked(subscriber, paper, given)


def _vote_page(asked: _Asked, kind: str, given: int | None, done: str | None = None) -> str:
    return render_template(
        "subscribers/vote.html",
        subscriber=asked.subscriber,
        paper=asked.paper,
        kind=kind,
        label=NAMES[KINDS[kind]],
        given=given,
        done=done,
    )


@blueprint.get("/preferences/<token>/<kind>/<path:paper_id>")
def vote_page(token: str, kind: str, paper_id: str):
    asked = _asked(token, kind, paper_id)
    if not isinstance(asked, _Asked):
        return asked
    return _vote_page(asked, kind, asked.given)


@blueprint.post("/preferences/<token>/<kind>/<path:paper_id>")
def vote(token: str, kind: str, paper_id: str):
    asked = _asked(token, kind, paper_id)
    if not isinstance(asked, _Asked):
        return asked
    runtime = current_runtime()
    undo = request.form.get("action") == "undo"
    if asked.subscriber.status != SubscriberStatus.ACTIVE and not undo:
        page = render_template(
            "subscribers/message.html",
            title="Not subscribed",
            text="This address gets no digest, so there is nothing to rank. Subscribe again to choose topics.",
            link=("/subscribe", "Subscribe again"),
        )
        return page, 400
    with write_transaction(runtime.engine) as conn:
        if undo:
            votes.clear_vote(conn, asked.subscriber.id, asked.paper.id)
        else:
            votes.record_vote(conn, asked.subscriber.id, asked.paper.id, KINDS[kind], runtime.clock())
    if request.form.get("back") == "preferences":
        return redirect(f"/preferences/{token}#votes", code=303)
    return _vote_page(asked, kind, None if undo else KINDS[kind], "undone" if undo else "saved")


@blueprint.after_request
def keep_tokens_private(response):
    return keep_token_private(response)  # every page of this blueprint has the reader's token in its address
