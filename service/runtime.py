"""What every command and the web app share: the settings, the topics and the database engine."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from service import store
from service.clock import utc_now
from service.config import Config, load_config
from service.model.topics import Topic, find_topic, load_topics

log = logging.getLogger("paperboy")


def process_identity() -> str:
    """host:pid:random, naming this process in the scheduler lock and the ledger's leases."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Runtime:
    config: Config = field(default_factory=load_config)
    # What "now" is for the web app and the commands; tests pass a frozen one.
    clock: Callable[[], datetime] = utc_now

    @cached_property
    def topics(self) -> list[Topic]:
        return load_topics(self.config.topics_file)

    @cached_property
    def topic_slugs(self) -> tuple[str, ...]:
        """Every topic's slug, in file order: what forms, imports and commands accept."""
        return tuple(topic.slug for topic in self.topics)

    def topic(self, slug: str) -> Topic | None:
        return find_topic(self.topics, slug)

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
