"""Admin accounts and their sessions (a session started before the account's epoch moved on is over)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from service.store.schema import admin_user
from service.store.subscribers.audit import record_audit
from service.store.subscribers.records import SubscriberError


@dataclass
class Admin:
    id: int
    email: str
    password_hash: str
    created: datetime
    session_epoch: int = 0


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
    created = admin_by_id(conn, admin_id)
    assert created is not None  # inserted just above, in this transaction
    return created


def end_admin_sessions(conn: Connection, admin_id: int) -> None:
    """Sign the admin out everywhere: every session started before this stops working."""
    conn.execute(
        update(admin_user).where(admin_user.c.id == admin_id).values(session_epoch=admin_user.c.session_epoch + 1)
    )


def admin_by_id(conn: Connection, admin_id: int) -> Admin | None:
    row = conn.execute(select(admin_user).where(admin_user.c.id == admin_id)).mappings().first()
    return Admin(**row) if row else None


def admin_by_email(conn: Connection, email: str) -> Admin | None:
    row = conn.execute(select(admin_user).where(admin_user.c.email == email)).mappings().first()
    return Admin(**row) if row else None
