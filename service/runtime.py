"""What every command and the web app share: the settings, the topics and the database engine."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from service import store
from service.clock import utc_now
from service.config import Config, load_config
from service.model.topics import Topic, TopicsError, find_topic, load_topics, same_topics
from service.store import topics as topic_store

log = logging.getLogger("paperboy")

# How long a process trusts the topics it read before asking the store whether they changed:
# an admin's edit reaches every web process, sender and scheduler within this time.
TOPICS_REFRESH = 2.0


def process_identity() -> str:
    """host:pid:random, naming this process in the scheduler lock and the ledger's leases."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Runtime:
    config: Config = field(default_factory=load_config)
    # What "now" is for the web app and the commands; tests pass a frozen one.
    clock: Callable[[], datetime] = utc_now

    # Seconds between looks at the store's topics; tests pass 0 to see every change at once.
    topics_refresh: float = TOPICS_REFRESH

    def all_topics(self) -> list[Topic]:
        """Every topic, retired ones too: from the store, or from the topics file while the
        store holds none (before `paperboy init` copied them)."""
        held = self.__dict__.get("_topics_held")
        now = time.monotonic()
        if held is not None and now < held[0]:
            return held[2]
        try:
            engine = self._engine_with_schema()
            if engine is None:  # a new database: the command creates it; the file says the topics
                topics, stamp = self.file_topics(), None
            else:
                with engine.connect() as conn:
                    stamp = topic_store.stamp(conn)
                    if held is not None and held[1] == stamp:
                        topics = held[2]
                    else:
                        topics = topic_store.load(conn) if stamp[0] else self.file_topics()
        except (store.StoreError, store.DatabaseError) as error:
            # The command reports an unreachable store itself, in its own one line.
            log.debug("topics: the store cannot be read (%s)", error)
            topics, stamp = (held[2], held[1]) if held is not None else (self.file_topics(), None)
        self.__dict__["_topics_held"] = (now + self.topics_refresh, stamp, topics)
        return topics

    def _engine_with_schema(self) -> store.Engine | None:
        """The engine, if the database has paperboy's schema; reading topics never creates it."""
        if "engine" in self.__dict__:
            return self.engine
        probe = store.connect(self.config.database_url)
        try:
            if store.needs_migration(probe):
                return None
        finally:
            probe.dispose()
        return self.engine

    def forget_topics(self) -> None:
        """Read the topics again at the next use (this process just changed them)."""
        self.__dict__.pop("_topics_held", None)

    def file_topics(self) -> list[Topic]:
        return load_topics(self.config.topics_file)

    @property
    def topics(self) -> list[Topic]:
        """The live topics (not retired), in their order: what is fetched, offered and mailed."""
        return [topic for topic in self.all_topics() if topic.retired is None]

    @property
    def topic_slugs(self) -> tuple[str, ...]:
        """Every live topic's slug, in order: what forms, imports and commands accept."""
        return tuple(topic.slug for topic in self.topics)

    def topic(self, slug: str) -> Topic | None:
        """The topic by slug, retired or not (a retired topic's pages and feeds stay)."""
        return find_topic(self.all_topics(), slug)

    def topics_differ_from_file(self) -> str | None:
        """One line when the store holds topics that differ from the topics file, else None."""
        try:
            engine = self._engine_with_schema()
            if engine is None:
                return None
            with engine.connect() as conn:
                held = topic_store.load(conn)
            if not held or same_topics(held, self.file_topics()):
                return None
        except (store.StoreError, store.DatabaseError, TopicsError):
            return None
        return (
            f"topics: {self.config.topics_file} differs from the topics in the store, which are the ones used "
            "(paperboy topics import FILE / paperboy topics export FILE)"
        )

    @cached_property
    def engine(self) -> store.Engine:
        """The database engine; a database without paperboy's schema is migrated first, and one a
        newer paperboy migrated is refused."""
        engine = store.connect(self.config.database_url)
        if store.needs_migration(engine):
            log.info("store: new database, creating the schema")
            store.migrate(engine)
        else:
            store.refuse_newer(engine)
        return engine

    def close(self) -> None:
        """Close the database connections, if any were opened."""
        if "engine" in self.__dict__:
            self.engine.dispose()
