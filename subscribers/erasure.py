"""Erasing a subscriber everywhere paperboy keeps their address: the subscriber row and audit
log (subscribers/store.py) and the bounce reasons in the send ledger (service/store/deliveries.py)."""

from __future__ import annotations

from datetime import datetime

from service.store import Connection
from service.store import deliveries
from subscribers import store


def erase_subscriber(conn: Connection, subscriber_id: int, now: datetime, actor: str) -> None:
    """Delete the subscriber (see store.erase) and scrub their address from the ledger's errors."""
    address = store.erase(conn, subscriber_id, now, actor)
    deliveries.scrub_errors(conn, subscriber_id, address, store.ERASED)
