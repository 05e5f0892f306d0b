"""What every command and the web app share: the settings, the topics and the database engine."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Callable

from service import store
from service.clock import utc_now
from service.config import Config, load_config
from service.topics import Topic, find_topic, load_topics

log = logging.getLogger("paperboy")


@dataclass
class Runtime:
    config: Config = field(default_factory=load_config)
    # What "now" is for the web app and the commands; tests pass a frozen one.
    clock: Callable[[], datetime] = utc_now

    @cached_property
    def topics(self) -> list[Topic]:
        return load_topics(self.config.topics_file)

    def topic(self, slug: str) -> Topic | None:
        return find_topic(self.topics, slug)

    @cached_property
    def engine(self) -> store.Engine:
        """The database engine; a database without paperboy's schema is migrated first."""
        engine = store.connect(self.config.database_url)
        if store.needs_migration(engine):
            log.info("store: new database, creating the schema")
            store.migrate(engine)
        return engine

    def close(self) -> None:
        """Close the database connections, if any were opened."""
        if "engine" in self.__dict__:
            self.engine.dispose()
