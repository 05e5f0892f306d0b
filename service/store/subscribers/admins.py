"""Admin accounts, their sessions (a session started before the account's epoch moved on is over)
and their sign-in history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from service.store.schema import admin_sign_in, admin_user
from service.store.subscribers.audit import record_audit
from service.store.subscribers.records import SubscriberError

# The password hash of an invited admin who has not set a password yet: it matches no password.
INVITED = "!invited"


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
