"""Every table of paperboy, on one MetaData that the migrations are checked against.

The subscriber tables live here too so that one migration history covers the whole
database; their queries are in service/store/subscribers/.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import true
from sqlalchemy.types import TypeDecorator

# Every id column is INTEGER: 32 bits on PostgreSQL. A larger number names no row; the web and
# signed links check it before a query that the database would refuse.
MAX_ID = 2**31 - 1

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database.

    SQLite has no timezone type and would hand back naive values; this stores UTC and
    always returns an aware datetime, so code never compares naive with aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"store: naive datetime {value!r}; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


UTC_DATETIME = UTCDateTime()

paper = Table(
    "paper",
    metadata,
    # arXiv id without version: "2602.03310" or "cs/0503050".
    Column("id", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("authors", JSON, nullable=False),  # list of names, in the paper's order
    Column("abstract", Text, nullable=False),
    Column("categories", JSON, nullable=False),  # list, primary first as arXiv lists them
    Column("primary_category", String(32), nullable=False),
    Column("published", UTC_DATETIME, nullable=False),  # v1
    Column("updated", UTC_DATETIME, nullable=False),  # the latest version we hold
    Column("comment", Text),
    Column("journal_ref", Text),
    Column("doi", String(255)),
    Column("code_urls", JSON, nullable=False),
    Column("project_urls", JSON, nullable=False),
    Column("first_seen", UTC_DATETIME, nullable=False),
    # What a topic's change stamp reads of its papers (service/store/summaries.py), without
    # reading their rows, which hold whole abstracts.
    Index("ix_paper_id_version_updated_published", "id", "version", "updated", "published"),
)

# What ranking reads of a paper (service/model/terms.py), rewritten with each new version: a
# window of thousands of papers is ranked from these small rows without reading the papers.
paper_terms = Table(
    "paper_terms",
    metadata,
    Column("paper_id", String(64), ForeignKey("paper.id", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, nullable=False),  # the paper's version these counts are of
    Column("published", UTC_DATETIME, nullable=False),  # paper.published, for ties
    Column("linked", Boolean, nullable=False),  # has code or a project page: the first section
    Column("length", Integer, nullable=False),  # terms in all
    Column("entries", LargeBinary, nullable=False),  # one (term key, count) per distinct term
    # Everything a window reads but the entries, so that it reads no table rows.
    Index(
        "ix_paper_terms_paper_id_version_published_linked_length",
        "paper_id",
        "version",
        "published",
        "linked",
        "length",
    ),
)

topic_paper = Table(
    "topic_paper",
    metadata,
    Column("topic", String(64), primary_key=True),
    Column("paper_id", String(64), ForeignKey("paper.id", ondelete="CASCADE"), primary_key=True),
    Column("first_matched", UTC_DATETIME, nullable=False),
    # paper.published (a paper's v1 date never changes), so that a feed's newest papers come
    # from this index in order, however many papers the topic holds.
    Column("published", UTC_DATETIME),
    # A window's papers come from this index alone: their ids are in it.
    Index("ix_topic_paper_topic_first_matched_paper_id", "topic", "first_matched", "paper_id"),
    Index("ix_topic_paper_topic_published_paper_id", "topic", "published", "paper_id"),
)

topic = Table(
    "topic",
    metadata,
    # The topics as admins edit them; topic_paper and subscription name them by slug.
    Column("slug", String(64), primary_key=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("query", Text, nullable=False),
    Column("categories", JSON, nullable=False),
    Column("exemplars", JSON, nullable=False),
    Column("position", Integer, nullable=False),  # the order pages and forms list them in
    Column("changed", UTC_DATETIME, nullable=False),
    Column("retired", UTC_DATETIME),
)

fetch_run = Table(
    "fetch_run",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("topic", String(64), nullable=False),
    Column("window_start", UTC_DATETIME, nullable=False),
    Column("window_end", UTC_DATETIME, nullable=False),
    Column("started", UTC_DATETIME, nullable=False),
    Column("finished", UTC_DATETIME),
    Column(
        "status", String(16), nullable=False
    ),  # service.states.RunStatus: running|ok|partial|failed|interrupted|sample
    Column("new_count", Integer, nullable=False, default=0),
    Column("updated_count", Integer, nullable=False, default=0),
    Column("unchanged_count", Integer, nullable=False, default=0),
    Column("error", Text),
    Index("ix_fetch_run_topic_started", "topic", "started"),
)

subscriber = Table(
    "subscriber",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # Normalized address; NULL once an admin deletes the subscriber (counts are kept).
    Column("email", String(320), unique=True),
    Column("status", String(16), nullable=False),  # subscribers.statuses.SubscriberStatus
    Column("created", UTC_DATETIME, nullable=False),
    Column("confirmed", UTC_DATETIME),
    Column("changed", UTC_DATETIME, nullable=False),
    # When a confirmation mail was last queued: the per-address wait is a conditional write on it.
    Column("confirm_mailed", UTC_DATETIME),
    Index("ix_subscriber_status", "status"),
)

subscription = Table(
    "subscription",
    metadata,
    Column("subscriber_id", Integer, ForeignKey("subscriber.id", ondelete="CASCADE"), primary_key=True),
    Column("topic", String(64), primary_key=True),
    Index("ix_subscription_topic", "topic"),
)

# One row per subscriber who changed the digest's defaults; no row means the defaults.
digest_preference = Table(
    "digest_preference",
    metadata,
    Column("subscriber_id", Integer, ForeignKey("subscriber.id", ondelete="CASCADE"), primary_key=True),
    Column("length", String(16), nullable=False),  # "" (default), "full", "titles" or papers per topic
    Column("keywords_in", JSON, nullable=False),  # lists of plain words and phrases
    Column("keywords_out", JSON, nullable=False),
    Column("authors", JSON, nullable=False),  # names as the subscriber typed them
    # "You might also like": a few papers of the week from outside the subscriber's topics.
    Column("suggestions", Boolean, nullable=False, server_default=true()),
)

# A reader's "More like this" (+1) or "Fewer like this" (-1) on a paper; their digests rank by it.
# Never exported, erased with the subscriber.
reader_vote = Table(
    "reader_vote",
    metadata,
    Column("subscriber_id", Integer, ForeignKey("subscriber.id", ondelete="CASCADE"), primary_key=True),
    Column("paper_id", String(64), ForeignKey("paper.id", ondelete="CASCADE"), primary_key=True),
    Column("vote", Integer, nullable=False),  # +1 more like this, -1 fewer like this
    Column("voted", UTC_DATETIME, nullable=False),
)

admin_user = Table(
    "admin_user",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("created", UTC_DATETIME, nullable=False),
    # Raised on sign-out: sessions remember the value they started with, so a copied cookie dies too.
    Column("session_epoch", Integer, nullable=False, default=0),
)

admin_sign_in = Table(
    "admin_sign_in",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("admin_id", Integer, ForeignKey("admin_user.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTC_DATETIME, nullable=False),
    Column("address", String(64), nullable=False),  # the client's IP address
    Column("outcome", String(16), nullable=False),  # signed-in | wrong-password | password-set
    Index("ix_admin_sign_in_admin_id_at", "admin_id", "at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTC_DATETIME, nullable=False),
    Column("actor", String(320), nullable=False),  # admin email, "cli" or "subscriber"
    Column("action", String(64), nullable=False),
    Column("subscriber_id", Integer, ForeignKey("subscriber.id", ondelete="SET NULL")),
    Column("detail", Text),
    Index("ix_audit_log_subscriber_id", "subscriber_id"),
)

digest = Table(
    "digest",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("week", String(8), nullable=False, unique=True),  # ISO week, "2026-W05"
    Column("created", UTC_DATETIME, nullable=False),
)

digest_paper = Table(
    "digest_paper",
    metadata,
    Column("digest_id", Integer, ForeignKey("digest.id", ondelete="CASCADE"), primary_key=True),
    Column("topic", String(64), primary_key=True),
    Column("paper_id", String(64), ForeignKey("paper.id"), primary_key=True),
)


def _claim_columns() -> list[Column[Any]]:
    """The columns of a queue of mails that senders claim, lease, retry and settle
    (service/store/deliveries.py settles the delivery table and the mail queue alike)."""
    return [
        Column("state", String(16), nullable=False),
        Column("attempts", Integer, nullable=False, default=0),
        Column("next_attempt", UTC_DATETIME),
        Column("claimed_at", UTC_DATETIME),
        Column("claimed_by", String(64)),
        Column("last_error", Text),
        Column("sent_at", UTC_DATETIME),
    ]


delivery = Table(
    "delivery",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("digest_id", Integer, ForeignKey("digest.id", ondelete="CASCADE"), nullable=False),
    Column("subscriber_id", Integer, ForeignKey("subscriber.id", ondelete="CASCADE"), nullable=False),
    Column("topics", Text, nullable=False),  # the subscriber's topics when the row was written
    *_claim_columns(),  # state: service.states.DeliveryState
    UniqueConstraint("digest_id", "subscriber_id"),
    Index("ix_delivery_digest_id_state", "digest_id", "state"),
)

mail_queue = Table(
    "mail_queue",
    metadata,
    # Transactional mail (confirmations, notices), sent like deliveries: claimed, leased, retried.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),  # confirm
    # A sign-up from the form holds the address until it is admitted; then subscriber_id names it.
    Column("email", String(320)),
    Column("subscriber_id", Integer, ForeignKey("subscriber.id", ondelete="CASCADE")),
    Column("topics", Text, nullable=False),
    Column("created", UTC_DATETIME, nullable=False),
    *_claim_columns(),  # state: service.states.MailState
    Index("ix_mail_queue_state", "state"),
    Index("ix_mail_queue_subscriber_id", "subscriber_id"),
)

scheduler_lock = Table(
    "scheduler_lock",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires", UTC_DATETIME, nullable=False),
)

inbound_message = Table(
    "inbound_message",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received", UTC_DATETIME, nullable=False),
    Column("source", String(8), nullable=False),  # smtp | imap
    Column("kind", String(16), nullable=False),  # service.states.InboundKind
    Column("mail_from", String(320)),  # the envelope sender, when it came over SMTP
    Column("rcpt_to", Text),  # the envelope recipients, comma separated
    Column("sender", Text),  # the From header
    Column("subject", Text),
    Column("subscriber_id", Integer, ForeignKey("subscriber.id", ondelete="SET NULL")),
    Column("delivery_id", Integer),  # named by the VERP address; no key, the ledger may be pruned
    Column("outcome", Text, nullable=False),  # what paperboy did, or why nothing
    Column("size", Integer, nullable=False),
    Column("raw", LargeBinary),  # the message, up to store.inbound.RAW_KEPT bytes
    Index("ix_inbound_message_received", "received"),
    Index("ix_inbound_message_kind", "kind"),
    Index("ix_inbound_message_subscriber_id_kind_received", "subscriber_id", "kind", "received"),
)
