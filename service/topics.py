"""The topic list, read from topics.toml."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from service.errors import PaperboyError

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class TopicsError(PaperboyError):
    """The topics file cannot be read or is malformed; the message names the file."""


@dataclass(frozen=True)
class Topic:
    slug: str
    title: str
    description: str
    query: str
    categories: tuple[str, ...] = ()

    def accepts(self, categories: list[str]) -> bool:
        """Whether a paper in `categories` passes this topic's optional category filter."""
        return not self.categories or any(c in self.categories for c in categories)


def load_topics(path: Path) -> list[Topic]:
    """Every topic in the file, in file order; raise TopicsError on anything malformed."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TopicsError(f"topics: no such file {str(path)!r} (PAPERBOY_TOPICS_FILE)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise TopicsError(f"topics: cannot read {str(path)!r}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise TopicsError(f"topics: {str(path)!r} is not valid TOML: {error}") from None
    entries = data.get("topic")
    if not isinstance(entries, list) or not entries:
        raise TopicsError(f"topics: {str(path)!r} has no [[topic]] tables")
    topics, seen = [], set()
    for number, entry in enumerate(entries, start=1):
        where = f"topics: {str(path)!r}, topic {number}"
        if not isinstance(entry, dict):
            raise TopicsError(f"{where}: expected a table")
        for key in ("slug", "title", "query"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise TopicsError(f"{where}: {key!r} is missing or empty")
        slug = entry["slug"]
        if not SLUG.match(slug):
            raise TopicsError(f"{where}: slug {slug!r} must be lowercase letters, digits and dashes")
        if slug in seen:
            raise TopicsError(f"{where}: slug {slug!r} appears twice")
        seen.add(slug)
        categories = entry.get("categories", [])
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise TopicsError(f"{where}: 'categories' must be a list of strings")
        topics.append(
            Topic(
                slug=slug,
                title=entry["title"].strip(),
                description=str(entry.get("description", "")).strip(),
                query=entry["query"].strip(),
                categories=tuple(categories),
            )
        )
    return topics


def find_topic(topics: list[Topic], slug: str) -> Topic | None:
    return next((topic for topic in topics if topic.slug == slug), None)
