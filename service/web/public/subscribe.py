"""Public pages: subscribe, confirm, preferences and unsubscribe (also RFC 8058 one-click).

Every answer to /subscribe is the same, and takes the same time, whether the address is new,
known or blocked and whether or not mail can be sent, so the form cannot be used to find out who
subscribes: the request is only queued here, and the scheduler mails the confirmation.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from flask import Blueprint, render_template, request

from service.digest.selection import FULL_PER_TOPIC
from service.model.states import SubscriberStatus
from service.store import mail_queue, write_transaction
from service.store.subscribers import lifecycle, records, votes
from service.store.subscribers import preferences as preference_store
from service.web.extensions import csrf, current_runtime
from service.web.rate_limits import SUBSCRIBE_LIMIT, limiter
from subscribers import confirmation, tokens
from subscribers.addresses import AddressError, normalize_address
from subscribers.preferences import MAX_PER_TOPIC, parse_form

blueprint = Blueprint("subscribe", __name__)


def _now() -> datetime:
    return current_runtime().clock()


def _message(title: str, text: str, status: int = 200, link: tuple[str, str] | None = None):
    return render_template("subscribers/message.html", title=title, text=text, link=link), status


def _topic_choice(runtime) -> tuple[list[str], str | None]:
    """The topics ticked in the form, and an error message when there are none or unknown ones."""
    chosen = [slug.strip() for slug in request.form.getlist("topics") if slug.strip()]
    known = set(runtime.topic_slugs)
    unknown = sorted(set(chosen) - known)
    if unknown:
        return chosen, "Unknown topic: " + ", ".join(unknown[:5])[:200] + ". Please pick from the list."
    if not chosen:
        return chosen, "Please pick at least one topic."
    return sorted(set(chosen)), None


@blueprint.get("/subscribe")
def subscribe_form():
    runtime = current_runtime()
    slug = request.args.get("topic", "")
    return render_template(
        "subscribers/subscribe.html",
        topics=runtime.topics,
        topic=runtime.topic(slug) if slug else None,
        selected=[],
        email="",
        error=None,
        form_token=True,
    )


@blueprint.post("/subscribe")
@csrf.exempt
@limiter.limit(SUBSCRIBE_LIMIT)
def subscribe():
    """A sign-up needs no session token: it only queues a confirmation mail (double opt-in), so
    a forged post can at most mail a confirmation link, which the rate limits bound. What a
    token would stop, a form on another site posting here, the Origin and Sec-Fetch-Site
    headers that browsers send tell apart."""
    if not same_site(request):
        return _message("Form refused", "This form can only be sent from paperboy's own pages.", 403)
    runtime = current_runtime()
    raw_email = request.form.get("email", "")
    topics, error = _topic_choice(runtime)
    email = None
    try:
        email = normalize_address(raw_email)
    except AddressError as address_error:
        error = str(address_error)
    if error or email is None:
        return render_template(
            "subscribers/subscribe.html",
            topics=runtime.topics,
            topic=None,
            selected=topics,
            email=raw_email[:320] if "\n" not in raw_email else "",
            error=error,
            form_token=True,
        ), 400
    # One and the same write for every address, whoever owns it and whether or not SMTP is up:
    # the scheduler looks at the request and mails the confirmation (service/outbound/notices.py).
    with runtime.engine.begin() as conn:
        mail_queue.request_confirmation(conn, email, topics, _now())
    return _message(
        "Check your inbox",
        "If the address can receive our mail, a confirmation link is on its way. "
        "Follow it within 7 days to start receiving the weekly digest.",
    )


def same_site(req) -> bool:
    """Whether a POST came from our own pages, as far as the browser says: a cross-site
    Sec-Fetch-Site or an Origin naming another host is refused; clients that send neither pass."""
    if req.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = req.headers.get("Origin")
    if origin is None:
        return True
    # Host names only: a front such as nginx may pass the Host header on without its port.
    return urlsplit(origin).hostname == urlsplit("//" + req.host).hostname


def _confirmation(runtime, token: str):
    """(subscriber id, topics, issued, None) for a good confirmation token, or (None, None, None, error page)."""
    try:
        subscriber_id, topics, issued = tokens.read_confirm_request(runtime.config, token, _now())
    except tokens.TokenError as error:
        return None, None, None, _message("Link not valid", str(error), 400, link=("/subscribe", "Subscribe"))
    known = set(runtime.topic_slugs)
    return subscriber_id, [t for t in topics if t in known], issued, None


@blueprint.get("/confirm/<token>")
def confirm_page(token: str):
    runtime = current_runtime()
    subscriber_id, topics, issued, failure = _confirmation(runtime, token)
    if failure:
        return failure
    with runtime.engine.connect() as conn:
        subscriber = records.get_subscriber(conn, subscriber_id)
    if subscriber is None or not confirmation.can_confirm(subscriber, issued):
        return _message("Link not valid", "This subscription can no longer be confirmed.", 400)
    # A GET only asks: mail scanners open every link, and a scanner must not be able to
    # subscribe an address that somebody else typed into the form.
    return render_template(
        "subscribers/confirm.html", subscriber=subscriber, topics=[t for t in runtime.topics if t.slug in topics]
    )


@blueprint.post("/confirm/<token>")
def confirm(token: str):
    runtime = current_runtime()
    now = _now()
    subscriber_id, topics, issued, failure = _confirmation(runtime, token)
    if failure:
        return failure
    try:
        with write_transaction(runtime.engine) as conn:
            subscriber = confirmation.confirm(conn, subscriber_id, topics, now, issued)
    except records.SubscriberError:
        return _message("Link not valid", "This subscription can no longer be confirmed.", 400)
    return _message(
        "Subscription confirmed",
        "You will get one email a week with the new papers of: "
        + ", ".join(t.title for t in runtime.topics if t.slug in subscriber.topics)
        + ".",
        link=(tokens.preferences_url(runtime.config, subscriber.id), "Change your topics"),
    )


def subscriber_from(read, token: str):
    runtime = current_runtime()
    try:
        subscriber_id = read(runtime.config, token)
    except tokens.TokenError as error:
        return None, _message("Link not valid", str(error), 400)
    with runtime.engine.connect() as conn:
        subscriber = records.get_subscriber(conn, subscriber_id)
    if subscriber is None or subscriber.status == records.DELETED:
        return None, _message("Link not valid", "This subscription does not exist any more.", 404)
    return subscriber, None


@blueprint.route("/preferences/<token>", methods=["GET", "POST"])
def preferences(token: str):
    runtime = current_runtime()
    subscriber, failure = subscriber_from(tokens.read_preferences_token, token)
    if failure:
        return failure
    error, saved = None, False
    with runtime.engine.connect() as conn:
        values = preference_store.get_preferences(conn, subscriber.id)
    if request.method == "POST" and request.form.get("action") == "digest":
        return _save_digest_preferences(runtime, token, subscriber, values)
    if request.method == "POST":
        if request.form.get("action") == "leave":
            with write_transaction(runtime.engine) as conn:
                lifecycle.unsubscribe(conn, subscriber.id, _now())
            return _message(
                "You are unsubscribed",
                "You will get no more mail from paperboy.",
                link=("/subscribe", "Subscribe again"),
            )
        if subscriber.status != SubscriberStatus.ACTIVE:
            error = "This address is not subscribed; subscribe again to choose topics."
        else:
            topics, error = _topic_choice(runtime)
            if not error:
                with write_transaction(runtime.engine) as conn:
                    subscriber = lifecycle.change_topics(conn, subscriber.id, topics, _now(), "subscriber")
                saved = True
    return _preferences_page(runtime, token, subscriber, values, error, saved)


def _save_digest_preferences(runtime, token: str, subscriber, values):
    """The digest preferences form: saved, or shown again as typed with what is wrong."""
    error: str | None = None
    saved: bool | str = False
    if subscriber.status != SubscriberStatus.ACTIVE:
        error = "This address is not subscribed; subscribe again to choose topics."
    else:
        preferences, values, error = parse_form(request.form)
        if preferences is not None:
            with runtime.engine.begin() as conn:
                preference_store.set_preferences(conn, subscriber.id, preferences, _now(), "subscriber")
            values, saved = preferences, "Your email preferences are saved."
    return _preferences_page(runtime, token, subscriber, values, error, saved)


def _preferences_page(runtime, token: str, subscriber, values, error: str | None, saved: bool | str):
    """The preferences page: topics, digest preferences as stored or typed, and the papers marked."""
    with runtime.engine.connect() as conn:
        marked = votes.votes_of(conn, subscriber.id)
    return render_template(
        "subscribers/preferences.html",
        subscriber=subscriber,
        topics=runtime.topics,
        error=error,
        saved=saved,
        values=values,
        votes=marked,
        token=token,
        **preference_limits(),
    ), 400 if error else 200


def preference_limits() -> dict:
    """What the preferences form says about its limits."""
    return {"default_per_topic": FULL_PER_TOPIC, "max_per_topic": MAX_PER_TOPIC}


@blueprint.get("/unsubscribe/<token>")
def unsubscribe_page(token: str):
    subscriber, failure = subscriber_from(tokens.read_unsubscribe_token, token)
    if failure:
        return failure
    # A GET only asks: mail scanners open every link in a message.
    return render_template("subscribers/unsubscribe.html", subscriber=subscriber)


@blueprint.post("/unsubscribe/<token>")
@csrf.exempt
def unsubscribe(token: str):
    """The form on the confirm page and RFC 8058 one-click POSTs (no cookies, no CSRF token) both land here."""
    subscriber, failure = subscriber_from(tokens.read_unsubscribe_token, token)
    if failure:
        return failure
    with write_transaction(current_runtime().engine) as conn:
        lifecycle.unsubscribe(conn, subscriber.id, _now())
    return _message(
        "You are unsubscribed", "You will get no more mail from paperboy.", link=("/subscribe", "Subscribe again")
    )


# Pages whose address holds a token: the token must not travel on in a Referer header or sit in a cache.
TOKEN_ENDPOINTS = frozenset(
    {
        "subscribe.confirm_page",
        "subscribe.confirm",
        "subscribe.preferences",
        "subscribe.unsubscribe_page",
        "subscribe.unsubscribe",
    }
)


def keep_token_private(response):
    """No Referer with the token in it, and no cache holding the page."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.after_request
def keep_tokens_private(response):
    return keep_token_private(response) if request.endpoint in TOKEN_ENDPOINTS else response
