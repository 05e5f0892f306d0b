"""Erasing a subscriber everywhere paperboy keeps their address: the subscriber row and audit
log (subscribers/store.py), the bounce reasons in the send ledger (service/store/deliveries.py) and the
mail received about them (service/store/inbound.py)."""

from __future__ import annotations

from datetime import datetime

from service.store import Connection
from service.store import deliveries
from service.store import inbound
from subscribers import store


def erase_subscriber(conn: Connection, subscriber_id: int, now: datetime, actor: str) -> None:
    """Delete the subscriber (see store.erase) and scrub their address from the ledger's errors and
    the inbound mail log."""
    address = store.erase(conn, subscriber_id, now, actor)
    deliveries.scrub_errors(conn, subscriber_id, address, store.ERASED)
    inbound.forget_subscriber(conn, subscriber_id, address, store.ERASED)
