"""Erasing a subscriber everywhere paperboy keeps their address: the subscriber row and audit
log (service/store/subscribers/), the bounce reasons in the send ledger (service/store/deliveries.py) and the
mail received about them (service/store/inbound.py); their votes on papers go too."""

from __future__ import annotations

from datetime import datetime

from service.store import Connection, deliveries, inbound
from service.store.subscribers import audit, lifecycle, votes


def erase_subscriber(conn: Connection, subscriber_id: int, now: datetime, actor: str) -> None:
    """Delete the subscriber (see lifecycle.erase) and scrub their address from the ledger's errors and
    the inbound mail log."""
    address = lifecycle.erase(conn, subscriber_id, now, actor)
    deliveries.scrub_errors(conn, subscriber_id, address, audit.ERASED)
    inbound.forget_subscriber(conn, subscriber_id, address, audit.ERASED)
    votes.erase_votes(conn, subscriber_id)
