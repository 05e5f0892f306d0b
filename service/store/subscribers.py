"""Every query on subscribers, their topics, admins and the audit log.

Functions take a Connection so the caller decides where a transaction starts and ends.
Deleting a subscriber erases the address but keeps the row (email NULL, status "deleted"),
so counts and the audit history stay whole.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from service.errors import PaperboyError
from service.model.preferences import DEFAULT as DEFAULT_PREFERENCES
from service.model.preferences import DigestPreferences
from service.model.states import SubscriberStatus
from service.store import erase_text
from service.store.schema import admin_sign_in, admin_user, audit_log, digest_preference, subscriber, subscription

DELETED = SubscriberStatus.DELETED
SORTS = {
    "email": subscriber.c.email,
    "status": subscriber.c.status,
    # A subscriber's first topic in alphabetical order: enough to group readers by topic.
    "topics": select(func.min(subscription.c.topic))
    .where(subscription.c.subscriber_id == subscriber.c.id)
    .scalar_subquery(),
    "created": subscriber.c.created,
    "changed": subscriber.c.changed,
}
# Rows per statement in bulk work: well under SQLite's limit of bound parameters.
CHUNK = 500
# At most one confirmation mail per address in this time, so the public form cannot be used
# to flood somebody's inbox; the form's answer stays the same either way.
CONFIRM_MAIL_INTERVAL = timedelta(minutes=10)
# Addresses the form never mails: blocked by an admin, erased, or their owner complained.
NO_CONFIRMATION = (SubscriberStatus.BLOCKED, SubscriberStatus.COMPLAINED, DELETED)


class SubscriberError(PaperboyError):
    """A change that the subscriber's state does not allow; the message says why."""


@dataclass
class Subscriber:
    id: int
    email: str | None
    status: str
    created: datetime
    confirmed: datetime | None
    changed: datetime
    confirm_mailed: datetime | None = None
    topics: list[str] = field(default_factory=list)


@dataclass
class Admin:
    id: int
    email: str
    password_hash: str
    created: datetime
    session_epoch: int = 0


@dataclass
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    subscriber_id: int | None
    detail: str | None


@dataclass
class ImportRow:
    email: str
    topics: list[str]
    status: str
    # None when the file has no preference columns: what is stored stays as it is.
    preferences: DigestPreferences | None = None


@dataclass
class ImportResult:
    created: int
    updated: int
    unchanged: int
    # Rows whose status was not applied: the address had left, bounced, complained or is blocked.
    kept: int = 0


def record_audit(
    conn: Connection,
    now: datetime,
    actor: str,
    action: str,
    subscriber_id: int | None = None,
    detail: str | None = None,
) -> None:
    """Append one entry to the audit log."""
    conn.execute(
        insert(audit_log).values(at=now, actor=actor, action=action, subscriber_id=subscriber_id, detail=detail)
    )


def audit_entries(conn: Connection, subscriber_id: int) -> list[AuditEntry]:
    """A subscriber's history, oldest first."""
    rows = conn.execute(
        select(audit_log).where(audit_log.c.subscriber_id == subscriber_id).order_by(audit_log.c.id)
    ).mappings()
    return [AuditEntry(**row) for row in rows]


def _topics_of(conn: Connection, ids: list[int]) -> dict[int, list[str]]:
    topics: dict[int, list[str]] = defaultdict(list)
    for start in range(0, len(ids), CHUNK):
        rows = conn.execute(
            select(subscription.c.subscriber_id, subscription.c.topic)
            .where(subscription.c.subscriber_id.in_(ids[start : start + CHUNK]))
            .order_by(subscription.c.subscriber_id, subscription.c.topic)
        )
        for subscriber_id, topic in rows:
            topics[subscriber_id].append(topic)
    return topics


def _subscribers(conn: Connection, query) -> list[Subscriber]:
    rows = conn.execute(query).mappings().all()
    topics = _topics_of(conn, [row["id"] for row in rows])
    return [Subscriber(**row, topics=topics.get(row["id"], [])) for row in rows]


def get_subscriber(conn: Connection, subscriber_id: int) -> Subscriber | None:
    found = _subscribers(conn, select(subscriber).where(subscriber.c.id == subscriber_id))
    return found[0] if found else None


def subscriber_by_email(conn: Connection, email: str) -> Subscriber | None:
    """The subscriber with this normalized address, or None."""
    found = _subscribers(conn, select(subscriber).where(subscriber.c.email == email))
    return found[0] if found else None


def _set_topics(conn: Connection, subscriber_id: int, topics: Iterable[str]) -> None:
    conn.execute(delete(subscription).where(subscription.c.subscriber_id == subscriber_id))
    rows = [{"subscriber_id": subscriber_id, "topic": t} for t in sorted(set(topics))]
    if rows:
        conn.execute(insert(subscription), rows)


def _set_status(conn: Connection, subscriber_id: int, status: str, now: datetime, **more) -> None:
    conn.execute(update(subscriber).where(subscriber.c.id == subscriber_id).values(status=status, changed=now, **more))


def request_subscription(conn: Connection, email: str, topics: list[str], now: datetime) -> tuple[Subscriber, bool]:
    """Record a sign-up from the public form; return the subscriber and whether to mail a confirmation.

    A new address becomes a pending subscriber with `topics`. An existing one changes nothing
    here (its topics change only once the confirmation link is followed); a blocked one gets no
    mail, nor does one that was sent a confirmation less than CONFIRM_MAIL_INTERVAL ago.
    """
    existing = subscriber_by_email(conn, email)
    if existing is None:
        try:
            with conn.begin_nested():
                new_id = conn.execute(
                    insert(subscriber)
                    .values(email=email, status=SubscriberStatus.PENDING, created=now, changed=now)
                    .returning(subscriber.c.id)
                ).scalar_one()
        except IntegrityError:
            # Another request inserted the same address a moment ago: treat it as existing.
            return request_subscription(conn, email, topics, now)
        _set_topics(conn, new_id, topics)
        record_audit(conn, now, "subscriber", "subscribe", new_id, "topics: " + " ".join(sorted(topics)))
        return get_subscriber(conn, new_id), _take_confirmation_turn(conn, new_id, now)
    if existing.status == SubscriberStatus.PENDING:
        _set_topics(conn, existing.id, topics)
    note = ""
    send = _take_confirmation_turn(conn, existing.id, now)
    if not send and existing.status not in NO_CONFIRMATION:
        note = "; no mail: one was sent in the last " + _minutes(CONFIRM_MAIL_INTERVAL)
    record_audit(
        conn,
        now,
        "subscriber",
        "subscribe-again",
        existing.id,
        f"was {existing.status}; topics: " + " ".join(sorted(topics)) + note,
    )
    return existing, send


def _minutes(interval: timedelta) -> str:
    return f"{int(interval.total_seconds() // 60)} minutes"


def _take_confirmation_turn(conn: Connection, subscriber_id: int, now: datetime) -> bool:
    """Whether a confirmation may be mailed now, decided by one conditional write: of any number of
    concurrent sign-ups for an address, exactly one finds the last mail old enough and moves it on."""
    return (
        conn.execute(
            update(subscriber)
            .where(
                subscriber.c.id == subscriber_id,
                subscriber.c.status.not_in(NO_CONFIRMATION),
                or_(subscriber.c.confirm_mailed.is_(None), subscriber.c.confirm_mailed <= now - CONFIRM_MAIL_INTERVAL),
            )
            .values(confirm_mailed=now)
        ).rowcount
        == 1
    )


def record_confirmation_mailed(conn: Connection, subscriber_id: int, now: datetime, mail_id: int | None = None) -> None:
    """Note in the history that a confirmation mail was queued (as mail `mail_id` of the mail queue)."""
    record_audit(
        conn,
        now,
        "subscriber",
        "confirm-mail",
        subscriber_id,
        f"queued as mail {mail_id}" if mail_id is not None else None,
    )


def can_confirm(found: Subscriber, issued: datetime | None = None) -> bool:
    """Blocked and deleted subscribers never come back through a confirmation link; one who left
    (or bounced) comes back only through a link issued after that, never through an older one."""
    if found.status in (SubscriberStatus.BLOCKED, DELETED):
        return False
    if issued is not None and found.status in (
        SubscriberStatus.UNSUBSCRIBED,
        SubscriberStatus.BOUNCED,
        SubscriberStatus.COMPLAINED,
    ):
        # Tokens carry whole seconds.
        return int(found.changed.timestamp()) <= int(issued.timestamp())
    return True


def confirm(
    conn: Connection, subscriber_id: int, topics: list[str], now: datetime, issued: datetime | None = None
) -> Subscriber:
    """Activate after the confirmation link issued at `issued`; an active subscriber gains `topics`, others get exactly them."""
    found = get_subscriber(conn, subscriber_id)
    if found is None or not can_confirm(found, issued):
        raise SubscriberError("subscribers: this subscription can no longer be confirmed")
    new_topics = set(topics) | set(found.topics) if found.status == SubscriberStatus.ACTIVE else set(topics)
    _set_topics(conn, subscriber_id, new_topics)
    _set_status(conn, subscriber_id, SubscriberStatus.ACTIVE, now, confirmed=now)
    record_audit(conn, now, "subscriber", "confirm", subscriber_id, "topics: " + " ".join(sorted(new_topics)))
    return get_subscriber(conn, subscriber_id)


def change_topics(conn: Connection, subscriber_id: int, topics: list[str], now: datetime, actor: str) -> Subscriber:
    """Replace a subscriber's topics."""
    found = get_subscriber(conn, subscriber_id)
    if found is None or found.status == DELETED:
        raise SubscriberError("subscribers: no such subscriber")
    _set_topics(conn, subscriber_id, topics)
    conn.execute(update(subscriber).where(subscriber.c.id == subscriber_id).values(changed=now))
    record_audit(
        conn,
        now,
        actor,
        "topics",
        subscriber_id,
        " ".join(sorted(found.topics)) + " -> " + " ".join(sorted(set(topics))),
    )
    return get_subscriber(conn, subscriber_id)


def unsubscribe(
    conn: Connection, subscriber_id: int, now: datetime, actor: str = "subscriber", reason: str = ""
) -> Subscriber:
    """Stop all mail to a subscriber; repeating it changes nothing. Blocked stays blocked."""
    found = get_subscriber(conn, subscriber_id)
    if found is None or found.status == DELETED:
        raise SubscriberError("subscribers: no such subscriber")
    if found.status in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING, SubscriberStatus.BOUNCED):
        _set_status(conn, subscriber_id, SubscriberStatus.UNSUBSCRIBED, now)
        record_audit(
            conn, now, actor, "unsubscribe", subscriber_id, f"was {found.status}" + (f"; {reason}" if reason else "")
        )
    return get_subscriber(conn, subscriber_id)


def block(conn: Connection, subscriber_id: int, now: datetime, actor: str) -> None:
    """Block an address: it gets no mail and cannot subscribe again."""
    found = get_subscriber(conn, subscriber_id)
    if found is None or found.status == DELETED:
        raise SubscriberError("subscribers: no such subscriber")
    _set_status(conn, subscriber_id, SubscriberStatus.BLOCKED, now)
    record_audit(conn, now, actor, "block", subscriber_id, f"was {found.status}")


def erase(conn: Connection, subscriber_id: int, now: datetime, actor: str) -> str:
    """Delete a subscriber: the address and topics go, the row stays (status "deleted") for counts
    and history. Returns the erased address; subscribers.erasure also takes it out of the ledger."""
    found = get_subscriber(conn, subscriber_id)
    if found is None or found.status == DELETED:
        raise SubscriberError("subscribers: no such subscriber")
    _set_topics(conn, subscriber_id, [])
    _write_preferences(conn, [(subscriber_id, DEFAULT_PREFERENCES)])  # followed names and keywords go too
    _set_status(conn, subscriber_id, DELETED, now, email=None)
    _scrub_address(conn, subscriber_id, found.email)
    record_audit(conn, now, actor, "delete", subscriber_id, f"was {found.status}")
    return found.email


ERASED = "[erased address]"


def _scrub_address(conn: Connection, subscriber_id: int, address: str) -> None:
    """Take the address out of the audit log's texts about the subscriber: mail servers quote it
    in the bounce reasons it keeps (the ledger's own copies are scrubbed by the caller)."""
    erase_text(conn, audit_log.c.detail, subscriber_id, address, ERASED)


def active_addresses(conn: Connection, ids: list[int]) -> dict[int, str]:
    """The address of each subscriber among `ids` who is still active."""
    return dict(
        conn.execute(
            select(subscriber.c.id, subscriber.c.email).where(
                subscriber.c.id.in_(ids), subscriber.c.status == SubscriberStatus.ACTIVE
            )
        ).all()
    )


def addresses(conn: Connection, ids: list[int]) -> dict[int, str | None]:
    """The address of each subscriber among `ids` (None once erased)."""
    return dict(conn.execute(select(subscriber.c.id, subscriber.c.email).where(subscriber.c.id.in_(ids))).all())


# Subscribers read at a time when a digest is queued: memory stays flat with the list's size.
SUBSCRIBER_BATCH = 1000


@dataclass(frozen=True)
class Recipient:
    subscriber_id: int
    email: str
    topics: list[str]


def active_recipients(conn: Connection, batch: int = SUBSCRIBER_BATCH) -> Iterator[Recipient]:
    """Every active subscriber with their topics, read in batches by id so memory stays flat."""
    last_id = 0
    while True:
        rows = conn.execute(
            select(subscriber.c.id, subscriber.c.email)
            .where(
                subscriber.c.status == SubscriberStatus.ACTIVE,
                subscriber.c.id > last_id,
                subscriber.c.email.is_not(None),
            )
            .order_by(subscriber.c.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        ids = [row.id for row in rows]
        topics: dict[int, list[str]] = {}
        for subscriber_id, topic in conn.execute(
            select(subscription.c.subscriber_id, subscription.c.topic).where(subscription.c.subscriber_id.in_(ids))
        ):
            topics.setdefault(subscriber_id, []).append(topic)
        for row in rows:
            yield Recipient(row.id, row.email, topics.get(row.id, []))
        last_id = ids[-1]


def mark_bounced(conn: Connection, subscriber_id: int, reason: str, now: datetime, actor: str = "mailer") -> bool:
    """The mail server refused this address for good: stop mailing it (status bounced) and log why.
    Returns whether the status changed (only active and pending subscribers become bounced)."""
    changed = conn.execute(
        update(subscriber)
        .where(
            subscriber.c.id == subscriber_id,
            subscriber.c.status.in_((SubscriberStatus.ACTIVE, SubscriberStatus.PENDING)),
        )
        .values(status=SubscriberStatus.BOUNCED, changed=now)
    ).rowcount
    record_audit(conn, now, actor, "bounce", subscriber_id, reason[:1000])
    return bool(changed)


def mark_complained(conn: Connection, subscriber_id: int, reason: str, now: datetime, actor: str) -> bool:
    """The reader reported our mail as spam: never mail them again (status complained) and log why.
    Blocked and deleted subscribers keep their status; returns whether it changed."""
    before = (
        SubscriberStatus.ACTIVE,
        SubscriberStatus.PENDING,
        SubscriberStatus.UNSUBSCRIBED,
        SubscriberStatus.BOUNCED,
    )
    changed = conn.execute(
        update(subscriber)
        .where(subscriber.c.id == subscriber_id, subscriber.c.status.in_(before))
        .values(status=SubscriberStatus.COMPLAINED, changed=now)
    ).rowcount
    record_audit(conn, now, actor, "complaint", subscriber_id, reason[:1000])
    return bool(changed)


@dataclass
class SubscriberPage:
    subscribers: list[Subscriber]
    total: int
    page: int
    pages: int


def _filters(search: str, status: str, topic: str) -> list[ColumnElement[bool]]:
    """The WHERE clauses of the admin's subscriber list: part of the address, status, topic."""
    where = []
    if search:
        where.append(subscriber.c.email.icontains(search, autoescape=True))
    if status:
        where.append(subscriber.c.status == status)
    if topic:
        where.append(exists().where(subscription.c.subscriber_id == subscriber.c.id, subscription.c.topic == topic))
    return where


def list_subscribers(
    conn: Connection,
    search: str = "",
    status: str = "",
    topic: str = "",
    sort: str = "email",
    page: int = 1,
    per_page: int = 50,
) -> SubscriberPage:
    """One page of subscribers matching the search (part of the address), status and topic."""
    where = _filters(search, status, topic)
    total = conn.execute(select(func.count()).select_from(subscriber).where(*where)).scalar_one()
    descending = sort.startswith("-")
    column = SORTS.get(sort.lstrip("-"), subscriber.c.email)
    order = column.desc() if descending else column.asc()
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    query = (
        select(subscriber).where(*where).order_by(order, subscriber.c.id).limit(per_page).offset((page - 1) * per_page)
    )
    return SubscriberPage(_subscribers(conn, query), total, page, pages)


def matching_subscribers(conn: Connection, search: str = "", status: str = "", topic: str = "") -> list[Subscriber]:
    """Every subscriber the list's filters select, by address: what a bulk action works on."""
    query = select(subscriber).where(*_filters(search, status, topic)).order_by(subscriber.c.email, subscriber.c.id)
    return _subscribers(conn, query)


def status_counts(conn: Connection) -> dict[str, int]:
    """Subscribers per status, every status present (zero when none)."""
    counts = dict.fromkeys(SubscriberStatus, 0)
    for status, count in conn.execute(select(subscriber.c.status, func.count()).group_by(subscriber.c.status)):
        counts[status] = count
    return counts


def topic_counts(conn: Connection, status: str = SubscriberStatus.ACTIVE) -> dict[str, int]:
    """Subscribers with `status` per topic."""
    rows = conn.execute(
        select(subscription.c.topic, func.count())
        .join(subscriber, subscriber.c.id == subscription.c.subscriber_id)
        .where(subscriber.c.status == status)
        .group_by(subscription.c.topic)
    )
    return dict(rows.all())


def active_subscribers(conn: Connection) -> list[Subscriber]:
    """Everyone who should get the digest, with their topics."""
    active = select(subscriber).where(subscriber.c.status == SubscriberStatus.ACTIVE)
    return _subscribers(conn, active.order_by(subscriber.c.id))


def export_rows(conn: Connection) -> Iterator[ImportRow]:
    """Every subscriber with an address, by address, in the shape CSV import reads."""
    last = ""
    while True:
        rows = conn.execute(
            select(subscriber.c.id, subscriber.c.email, subscriber.c.status)
            .where(subscriber.c.email.is_not(None), subscriber.c.email > last)
            .order_by(subscriber.c.email)
            .limit(CHUNK * 10)
        ).all()
        if not rows:
            return
        topics = _topics_of(conn, [row.id for row in rows])
        preferences = preferences_of(conn, [row.id for row in rows])
        for row in rows:
            yield ImportRow(row.email, topics.get(row.id, []), row.status, preferences.get(row.id, DEFAULT_PREFERENCES))
        last = rows[-1].email


def _existing_by_email(conn: Connection, emails: list[str]) -> dict[str, Subscriber]:
    """The subscribers among `emails`. A large import reads the whole table once: hundreds of IN
    lookups are slow when the planner's statistics predate a bulk load (PostgreSQL then scans)."""
    existing: dict[str, Subscriber] = {}
    if len(emails) > CHUNK * 10:
        wanted = set(emails)
        found = [
            r
            for r in conn.execute(select(subscriber).where(subscriber.c.email.is_not(None))).mappings()
            if r["email"] in wanted
        ]
        topics: dict[int, list[str]] = defaultdict(list)
        if found:
            for subscriber_id, topic in conn.execute(
                select(subscription.c.subscriber_id, subscription.c.topic).order_by(
                    subscription.c.subscriber_id, subscription.c.topic
                )
            ):
                topics[subscriber_id].append(topic)
        return {r["email"]: Subscriber(**r, topics=topics.get(r["id"], [])) for r in found}
    for start in range(0, len(emails), CHUNK):
        found = (
            conn.execute(select(subscriber).where(subscriber.c.email.in_(emails[start : start + CHUNK])))
            .mappings()
            .all()
        )
        chunk_topics = _topics_of(conn, [r["id"] for r in found])
        for r in found:
            existing[r["email"]] = Subscriber(**r, topics=chunk_topics.get(r["id"], []))
    return existing


def import_rows(conn: Connection, rows: list[ImportRow], now: datetime, actor: str) -> ImportResult:
    """Insert or update every row in bulk statements; the caller's transaction makes it all or nothing.

    Rows must already be valid and have distinct addresses (subscribers.csv_io checks both).
    """
    existing = _existing_by_email(conn, [row.email for row in rows])
    wanted = rows
    # replace() keeps every other field of the row, its preferences included.
    rows = [replace(row, status=_import_status(existing.get(row.email), row.status)) for row in rows]
    kept = sum(1 for before, after in zip(wanted, rows) if before.status != after.status)

    new_rows = [row for row in rows if row.email not in existing]
    stored = preferences_of(
        conn, [existing[row.email].id for row in rows if row.email in existing and row.preferences is not None]
    )
    new_preferences = [
        row
        for row in rows
        if row.preferences is not None
        and (row.email not in existing or stored.get(existing[row.email].id, DEFAULT_PREFERENCES) != row.preferences)
    ]
    preference_changes = {row.email for row in new_preferences}
    changed = [
        row
        for row in rows
        if row.email in existing
        and (
            existing[row.email].status != row.status
            or sorted(set(row.topics)) != existing[row.email].topics
            or row.email in preference_changes
        )
    ]
    ids: dict[str, int] = {}
    if new_rows:
        inserted = conn.execute(
            insert(subscriber).returning(subscriber.c.id, subscriber.c.email, sort_by_parameter_order=True),
            [
                {
                    "email": row.email,
                    "status": row.status,
                    "created": now,
                    "changed": now,
                    "confirmed": now if row.status == SubscriberStatus.ACTIVE else None,
                }
                for row in new_rows
            ],
        )
        ids.update({email: sid for sid, email in inserted})
    for status in {row.status for row in changed}:
        same = [existing[row.email].id for row in changed if row.status == status]
        for start in range(0, len(same), CHUNK):
            conn.execute(
                update(subscriber)
                .where(subscriber.c.id.in_(same[start : start + CHUNK]))
                .values(status=status, changed=now)
            )
    changed_ids = [existing[row.email].id for row in changed]
    for start in range(0, len(changed_ids), CHUNK):
        conn.execute(delete(subscription).where(subscription.c.subscriber_id.in_(changed_ids[start : start + CHUNK])))
    for row in changed:
        ids[row.email] = existing[row.email].id
    subscription_rows = [
        {"subscriber_id": ids[row.email], "topic": topic}
        for row in (*new_rows, *changed)
        for topic in sorted(set(row.topics))
    ]
    if subscription_rows:
        conn.execute(insert(subscription), subscription_rows)
    audit_rows = [
        {
            "at": now,
            "actor": actor,
            "action": "import",
            "subscriber_id": ids[row.email],
            "detail": f"status {row.status}; topics: " + " ".join(sorted(set(row.topics))),
        }
        for row in (*new_rows, *changed)
    ]
    if audit_rows:
        conn.execute(insert(audit_log), audit_rows)
    _write_preferences(conn, [(ids[row.email], row.preferences) for row in new_preferences])
    return ImportResult(
        created=len(new_rows), updated=len(changed), unchanged=len(rows) - len(new_rows) - len(changed), kept=kept
    )


def _import_status(found: Subscriber | None, status: str) -> str:
    """The status an import may set. An import (often of an old export) never brings back an address:
    a blocked or complained one stays so, and one that unsubscribed or bounced can only be blocked, never
    made pending or active (only its owner's own confirmation brings it back)."""
    if found is None:
        return status
    if found.status in (SubscriberStatus.BLOCKED, SubscriberStatus.COMPLAINED) or (
        found.status in (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED) and status != SubscriberStatus.BLOCKED
    ):
        return found.status
    return status


def create_admin(conn: Connection, email: str, password_hash: str, now: datetime) -> Admin:
    """Add an admin account; raise SubscriberError when the address already has one."""
    try:
        with conn.begin_nested():
            admin_id = conn.execute(
                insert(admin_user)
                .values(email=email, password_hash=password_hash, created=now)
                .returning(admin_user.c.id)
            ).scalar_one()
    except IntegrityError:
        raise SubscriberError(f"admin: {email} already exists") from None
    record_audit(conn, now, "cli", "admin-create", None, email)
    return admin_by_id(conn, admin_id)


def end_admin_sessions(conn: Connection, admin_id: int) -> None:
    """Sign the admin out everywhere: every session started before this stops working."""
    conn.execute(
        update(admin_user).where(admin_user.c.id == admin_id).values(session_epoch=admin_user.c.session_epoch + 1)
    )


# The password hash of an invited admin who has not set a password yet: it matches no password.
INVITED = "!invited"


@dataclass
class SignIn:
    at: datetime
    address: str
    outcome: str


def all_admins(conn: Connection) -> list[Admin]:
    return [Admin(**row) for row in conn.execute(select(admin_user).order_by(admin_user.c.email)).mappings()]


def set_admin_password(conn: Connection, admin_id: int, password_hash: str) -> None:
    """A new password; every session of the admin ends (and links made for the old one stop working)."""
    conn.execute(
        update(admin_user)
        .where(admin_user.c.id == admin_id)
        .values(password_hash=password_hash, session_epoch=admin_user.c.session_epoch + 1)
    )


def remove_admin(conn: Connection, admin_id: int) -> None:
    """Delete the admin: their sessions end at their next request, which finds no admin."""
    conn.execute(delete(admin_user).where(admin_user.c.id == admin_id))


def record_sign_in(conn: Connection, admin_id: int, now: datetime, address: str, outcome: str) -> None:
    conn.execute(insert(admin_sign_in).values(admin_id=admin_id, at=now, address=address[:64], outcome=outcome))


def sign_ins(conn: Connection, admin_id: int, limit: int = 100) -> list[SignIn]:
    """The admin's latest sign-ins and attempts, newest first."""
    rows = conn.execute(
        select(admin_sign_in.c.at, admin_sign_in.c.address, admin_sign_in.c.outcome)
        .where(admin_sign_in.c.admin_id == admin_id)
        .order_by(admin_sign_in.c.at.desc(), admin_sign_in.c.id.desc())
        .limit(limit)
    ).all()
    return [SignIn(*row) for row in rows]


def admin_by_id(conn: Connection, admin_id: int) -> Admin | None:
    row = conn.execute(select(admin_user).where(admin_user.c.id == admin_id)).mappings().first()
    return Admin(**row) if row else None


def admin_by_email(conn: Connection, email: str) -> Admin | None:
    row = conn.execute(select(admin_user).where(admin_user.c.email == email)).mappings().first()
    return Admin(**row) if row else None


def preferences_of(conn: Connection, ids: list[int]) -> dict[int, DigestPreferences]:
    """The digest preferences of the subscribers among `ids` who changed the defaults."""
    found: dict[int, DigestPreferences] = {}
    for start in range(0, len(ids), CHUNK):
        rows = conn.execute(
            select(digest_preference).where(digest_preference.c.subscriber_id.in_(ids[start : start + CHUNK]))
        )
        for row in rows.mappings():
            found[row["subscriber_id"]] = DigestPreferences(
                row["length"], tuple(row["keywords_in"]), tuple(row["keywords_out"]), tuple(row["authors"])
            )
    return found


def get_preferences(conn: Connection, subscriber_id: int) -> DigestPreferences:
    """One subscriber's digest preferences (the defaults when none were set)."""
    return preferences_of(conn, [subscriber_id]).get(subscriber_id, DEFAULT_PREFERENCES)


def set_preferences(
    conn: Connection, subscriber_id: int, preferences: DigestPreferences, now: datetime, actor: str
) -> None:
    """Replace a subscriber's digest preferences and note the change in the audit log."""
    found = get_subscriber(conn, subscriber_id)
    if found is None or found.status == DELETED:
        raise SubscriberError("subscribers: no such subscriber")
    before = get_preferences(conn, subscriber_id)
    if before == preferences:
        return
    _write_preferences(conn, [(subscriber_id, preferences)])
    conn.execute(update(subscriber).where(subscriber.c.id == subscriber_id).values(changed=now))
    record_audit(conn, now, actor, "preferences", subscriber_id, preferences.describe()[:1000])


def _write_preferences(conn: Connection, rows: list[tuple[int, DigestPreferences]]) -> None:
    ids = [subscriber_id for subscriber_id, _ in rows]
    for start in range(0, len(ids), CHUNK):
        conn.execute(delete(digest_preference).where(digest_preference.c.subscriber_id.in_(ids[start : start + CHUNK])))
    values = [
        {
            "subscriber_id": subscriber_id,
            "length": p.length,
            "keywords_in": list(p.keywords_in),
            "keywords_out": list(p.keywords_out),
            "authors": list(p.authors),
        }
        for subscriber_id, p in rows
        if not p.is_default
    ]
    for start in range(0, len(values), CHUNK):
        conn.execute(insert(digest_preference), values[start : start + CHUNK])
