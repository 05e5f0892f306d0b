"""The topics admins edit: read whole (a short list), written one at a time or replaced by an import."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from service.model.topics import Topic
from service.store.schema import topic as topic_table


def load(conn: Connection) -> list[Topic]:
    """Every topic, retired ones too, in their order; empty when the store holds none yet."""
    rows = conn.execute(select(topic_table).order_by(topic_table.c.position, topic_table.c.slug)).mappings()
    return [
        Topic(
            slug=row["slug"],
            title=row["title"],
            description=row["description"],
            query=row["query"],
            categories=tuple(row["categories"]),
            exemplars=tuple(row["exemplars"]),
            retired=row["retired"],
        )
        for row in rows
    ]


def stamp(conn: Connection) -> tuple[int, datetime | None]:
    """How many topics and the latest change: a process reloads its topics when this moves."""
    count, changed = conn.execute(select(func.count(), func.max(topic_table.c.changed))).one()
    return int(count), changed


def _values(topic: Topic, now: datetime) -> dict[str, object]:
    return {
        "title": topic.title,
        "description": topic.description,
        "query": topic.query,
        "categories": list(topic.categories),
        "exemplars": list(topic.exemplars),
        "changed": now,
    }


def save(conn: Connection, topic: Topic, now: datetime) -> bool:
    """Add the topic, or change the one with its slug (a retired one comes back); True when new."""
    exists = conn.execute(select(topic_table.c.slug).where(topic_table.c.slug == topic.slug)).first()
    if exists:
        conn.execute(
            update(topic_table).where(topic_table.c.slug == topic.slug).values(**_values(topic, now), retired=None)
        )
        return False
    last = conn.execute(select(func.max(topic_table.c.position))).scalar()
    conn.execute(insert(topic_table).values(slug=topic.slug, position=(last or 0) + 1, **_values(topic, now)))
    return True


def retire(conn: Connection, slug: str, now: datetime) -> bool:
    """Retire a live topic; False when there is none by that slug."""
    changed = conn.execute(
        update(topic_table)
        .where(topic_table.c.slug == slug, topic_table.c.retired.is_(None))
        .values(retired=now, changed=now)
    ).rowcount
    return bool(changed)


def import_all(conn: Connection, topics: list[Topic], now: datetime) -> tuple[int, int, int]:
    """Make the store's live topics those of a file, in its order: (added, changed, retired).
    Topics missing from the file are retired, never deleted: their pages and feeds stay."""
    held = {t.slug: t for t in load(conn)}
    added = changed = 0
    for position, topic in enumerate(topics, start=1):
        before = held.get(topic.slug)
        if before is None:
            conn.execute(insert(topic_table).values(slug=topic.slug, position=position, **_values(topic, now)))
            added += 1
            continue
        if before != topic:  # a field differs, or it was retired
            conn.execute(
                update(topic_table)
                .where(topic_table.c.slug == topic.slug)
                .values(**_values(topic, now), retired=None, position=position)
            )
            changed += 1
        else:
            conn.execute(update(topic_table).where(topic_table.c.slug == topic.slug).values(position=position))
    wanted = {t.slug for t in topics}
    retired = sum(retire(conn, slug, now) for slug, t in held.items() if slug not in wanted and t.retired is None)
    return added, changed, retired
