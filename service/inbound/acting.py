"""Acting on received mail, the same whether it came over SMTP (`paperboy inbound`) or from the
IMAP mailbox: every message goes in the inbound log, and changes at most the subscribers it names.

Policy:
- a permanent failure (DSN or non-standard bounce) marks the subscriber bounced;
- a temporary failure is counted: the SOFT_BOUNCE_LIMIT-th within SOFT_BOUNCE_WINDOW marks them bounced;
- an ARF complaint marks them complained (no more mail, like unsubscribing);
- a mail to the List-Unsubscribe mailto whose subject carries a valid token unsubscribes;
- auto-replies and anything unrecognised change nothing and are kept for the admin.
A report acts only on evidence nobody else can make: the signed VERP address it came back to (or
that the returned message carries), or, for a complaint, the signed unsubscribe link in the
returned digest. One without (anyone may forge a DSN or an ARF report naming an address) is
logged, and counted in the subscriber's history, but changes nothing; a failure the relay
reported while paperboy sent (SMTP time) is acted on by the sender itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from service import store
from service.inbound.reading import Reading, read_message
from service.model.states import InboundKind, SubscriberStatus
from service.runtime import Runtime
from service.store import inbound as inbound_store
from service.store.subscribers import audit, bounces, lifecycle, records
from subscribers.addresses import AddressError, normalize_address

log = logging.getLogger("paperboy.inbound")

SOFT_BOUNCE_LIMIT = 3
SOFT_BOUNCE_WINDOW = timedelta(days=14)
ACTOR = "inbound mail"
# The history entry of a report without signed evidence, and what the inbound log says of it.
UNVERIFIED = "unverified-report"
UNVERIFIED_NOTE = "report without a valid VERP tag; logged, nothing changed"


@dataclass
class Handled:
    id: int
    kind: str
    outcome: str
    changed: list[int] = field(default_factory=list)  # subscribers whose status changed


@dataclass
class _Acts:
    notes: list[str] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    subscriber_id: int | None = None
    delivery_id: int | None = None
    erased: bool = False  # about a deleted subscriber: their address must not be kept


def handle_message(
    runtime: Runtime,
    raw: bytes,
    source: str,
    rcpts: list[str] | None = None,
    mail_from: str | None = None,
    now: datetime | None = None,
) -> Handled:
    """Read one received message, act on it and log it, all in one transaction."""
    now = now or datetime.now(UTC)
    reading = read_message(runtime.config, raw, rcpts)
    with store.write_transaction(runtime.engine) as conn:
        acts = ACTIONS[reading.kind](conn, reading, now)
        outcome = "; ".join(acts.notes)
        # Mail about a subscriber who was just erased keeps neither its addresses nor its text.
        details = (
            {}
            if acts.erased
            else {
                "mail_from": mail_from,
                "rcpt_to": ", ".join(rcpts or []) or None,
                "sender": reading.sender,
                "subject": reading.subject,
            }
        )
        message_id = inbound_store.record_message(
            conn,
            now,
            source,
            reading.kind,
            outcome,
            raw,
            subscriber_id=acts.subscriber_id,
            delivery_id=acts.delivery_id,
            keep=not acts.erased,
            **details,
        )
    log.info(
        "inbound: message %d (%s, %d bytes, from %r): %s: %s",
        message_id,
        source,
        len(raw),
        reading.sender or mail_from or "",
        reading.kind,
        outcome,
    )
    return Handled(message_id, reading.kind, outcome, acts.changed)


def _by_delivery(conn, reading: Reading, acts: _Acts) -> list[records.Subscriber]:
    """The subscriber of the first delivery a signed VERP address names."""
    for delivery_id in reading.delivery_ids:
        acts.delivery_id = delivery_id
        subscriber_id = inbound_store.subscriber_of_delivery(conn, delivery_id)
        found = records.get_subscriber(conn, subscriber_id) if subscriber_id is not None else None
        if found is not None:
            return [found]
        acts.notes.append(f"delivery {delivery_id} is not in the ledger")
    return []


def _by_address(conn, addresses: list[str], acts: _Acts, mailed_only: bool) -> list[records.Subscriber]:
    found = []
    for address in addresses:
        try:
            subscriber = records.subscriber_by_email(conn, normalize_address(address))
        except AddressError:
            subscriber = None
        if subscriber is None and "@xn--" in address.lower():
            local, _, domain = address.rpartition("@")
            try:
                subscriber = records.subscriber_by_email(conn, f"{local}@{domain.encode().decode('idna')}".lower())
            except UnicodeError:
                subscriber = None
        if subscriber is None:
            acts.notes.append(f"no subscriber has the address {address}")
        elif mailed_only and not inbound_store.was_mailed(conn, subscriber.id):
            acts.notes.append(f"subscriber {subscriber.id} was never mailed; not trusting this report")
        elif subscriber not in found:
            found.append(subscriber)
    return found


def _unverified(conn, reading: Reading, acts: _Acts, addresses: list[str], now: datetime) -> None:
    """A report with no signed evidence: note it for the subscribers it names, change nothing."""
    for subscriber in _by_address(conn, addresses, acts, mailed_only=False):
        acts.subscriber_id = acts.subscriber_id or subscriber.id
        if subscriber.status == SubscriberStatus.DELETED:
            acts.notes.append(f"subscriber {subscriber.id} is deleted; nothing changed")
            acts.erased = True
            continue
        audit.record_audit(conn, now, ACTOR, UNVERIFIED, subscriber.id, f"{reading.kind} without a VERP tag; ignored")
        acts.notes.append(f"subscriber {subscriber.id}: {UNVERIFIED_NOTE}")


def _targets(conn, reading: Reading, acts: _Acts, addresses: list[str], now: datetime):
    found = _by_delivery(conn, reading, acts)
    if not found and reading.delivery_ids:
        # A signed tag whose ledger row was pruned: the tag still proves the report is about our mail.
        found = _by_address(conn, addresses, acts, mailed_only=True)
    elif not found:
        _unverified(conn, reading, acts, addresses, now)
    live = []
    for subscriber in found:
        if acts.subscriber_id is None:
            acts.subscriber_id = subscriber.id
        if subscriber.status == SubscriberStatus.DELETED:
            acts.notes.append(f"subscriber {subscriber.id} is deleted; nothing changed")
            acts.erased = True
        else:
            live.append(subscriber)
    return live


def _note_change(acts: _Acts, subscriber, changed: bool, status: str) -> None:
    if changed:
        acts.changed.append(subscriber.id)
        acts.notes.append(f"subscriber {subscriber.id}: {subscriber.status} -> {status}")
    else:
        acts.notes.append(f"subscriber {subscriber.id} stays {subscriber.status}")


def _bounce(conn, reading: Reading, now: datetime) -> _Acts:
    acts = _Acts()
    reason = f"bounce: {', '.join(reading.permanent)} failed permanently ({reading.detail or 'no status given'})"
    for subscriber in _targets(conn, reading, acts, reading.permanent, now):
        changed = bounces.mark_bounced(conn, subscriber.id, reason, now, ACTOR)
        _note_change(acts, subscriber, changed, SubscriberStatus.BOUNCED)
    return acts


def _soft_bounce(conn, reading: Reading, now: datetime) -> _Acts:
    acts = _Acts()
    failed = f"{', '.join(reading.temporary)} failed for now ({reading.detail or 'no status given'})"
    for subscriber in _targets(conn, reading, acts, reading.temporary, now):
        # This message is logged after the count, hence the + 1.
        count = inbound_store.count_verified_since(
            conn, subscriber.id, InboundKind.SOFT_BOUNCE, now - SOFT_BOUNCE_WINDOW
        )
        count += 1
        window = f"{SOFT_BOUNCE_WINDOW.days} days"
        if count >= SOFT_BOUNCE_LIMIT:
            reason = f"soft bounce {count} within {window} (limit {SOFT_BOUNCE_LIMIT}): {failed}"
            changed = bounces.mark_bounced(conn, subscriber.id, reason, now, ACTOR)
            _note_change(acts, subscriber, changed, SubscriberStatus.BOUNCED)
        else:
            audit.record_audit(
                conn,
                now,
                ACTOR,
                "soft-bounce",
                subscriber.id,
                f"soft bounce {count} of {SOFT_BOUNCE_LIMIT} within {window}: {failed}"[:1000],
            )
            acts.notes.append(f"subscriber {subscriber.id}: soft bounce {count} of {SOFT_BOUNCE_LIMIT} within {window}")
    return acts


def _complaint(conn, reading: Reading, now: datetime) -> _Acts:
    acts = _Acts()
    found = _by_delivery(conn, reading, acts)
    if not found and reading.subscriber_ids:
        found = [s for s in (records.get_subscriber(conn, i) for i in reading.subscriber_ids) if s]
    if not found:
        _unverified(conn, reading, acts, reading.addresses, now)
    if not found and not acts.notes:
        acts.notes.append("the complaint names no subscriber")
    for subscriber in found:
        acts.subscriber_id = acts.subscriber_id or subscriber.id
        if subscriber.status == SubscriberStatus.DELETED:
            acts.notes.append(f"subscriber {subscriber.id} is deleted; nothing changed")
            acts.erased = True
            continue
        changed = bounces.mark_complained(conn, subscriber.id, f"spam complaint ({reading.detail})", now, ACTOR)
        _note_change(acts, subscriber, changed, SubscriberStatus.COMPLAINED)
    return acts


def _unsubscribe(conn, reading: Reading, now: datetime) -> _Acts:
    acts = _Acts()
    if reading.detail:
        acts.notes.append(reading.detail + "; nothing changed")
    for subscriber_id in reading.subscriber_ids:
        subscriber = records.get_subscriber(conn, subscriber_id)
        if subscriber is None or subscriber.status == SubscriberStatus.DELETED:
            acts.notes.append(f"subscriber {subscriber_id} no longer exists; nothing changed")
            continue
        acts.subscriber_id = acts.subscriber_id or subscriber.id
        after = lifecycle.unsubscribe(conn, subscriber.id, now, ACTOR, "mail to the List-Unsubscribe address")
        _note_change(acts, subscriber, after.status != subscriber.status, after.status)
    return acts


def _keep(conn, reading: Reading, now: datetime) -> _Acts:
    what = "an auto-reply" if reading.kind == InboundKind.AUTO_REPLY else "not a report paperboy understands"
    return _Acts([f"{what}; kept for the admin, nothing changed" + (f" ({reading.detail})" if reading.detail else "")])


ACTIONS = {
    InboundKind.BOUNCE: _bounce,
    InboundKind.SOFT_BOUNCE: _soft_bounce,
    InboundKind.COMPLAINT: _complaint,
    InboundKind.UNSUBSCRIBE: _unsubscribe,
    InboundKind.AUTO_REPLY: _keep,
    InboundKind.UNRECOGNISED: _keep,
}
