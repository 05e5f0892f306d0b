"""Topics: what one is, and the topics file (topics.toml) that seeds, imports and exports them."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from service.errors import PaperboyError
from service.model.paper import split_arxiv_id

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
# Exemplars steer the ranking; a handful is enough, and each costs a BM25 query per ranking.
MAX_EXEMPLARS = 10


class TopicsError(PaperboyError):
    """The topics file cannot be read or is malformed; the message names the file."""


@dataclass(frozen=True)
class Topic:
    slug: str
    title: str
    description: str
    query: str
    categories: tuple[str, ...] = ()
    exemplars: tuple[str, ...] = ()  # arXiv ids of papers that show what the topic is about
    # When an admin retired it: no more fetches, sign-ups or digest sections; pages and feeds stay.
    retired: datetime | None = None

    @property
    def fingerprint(self) -> str:
        """Short and the same in every process: rendered pages and feeds of the topic name it in
        their version, so an admin's edit shows on them as a new paper would."""
        fields = (self.slug, self.title, self.description, self.query, self.categories, self.exemplars)
        return hashlib.sha1(repr(fields).encode()).hexdigest()[:12]

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
        topic = parse_topic(entry, f"topics: {str(path)!r}, topic {number}")
        if topic.slug in seen:
            raise TopicsError(f"topics: {str(path)!r}, topic {number}: slug {topic.slug!r} appears twice")
        seen.add(topic.slug)
        topics.append(topic)
    return topics


def parse_topic(entry: Any, where: str) -> Topic:
    """One topic from a table of the file or a form's fields; TopicsError says what is wrong."""
    if not isinstance(entry, dict):
        raise TopicsError(f"{where}: expected a table")
    for key in ("slug", "title", "query"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise TopicsError(f"{where}: {key!r} is missing or empty")
    slug = entry["slug"].strip()
    if not SLUG.match(slug):
        raise TopicsError(f"{where}: slug {slug!r} must be lowercase letters, digits and dashes")
    categories = entry.get("categories", [])
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise TopicsError(f"{where}: 'categories' must be a list of strings")
    return Topic(
        slug=slug,
        title=entry["title"].strip(),
        description=str(entry.get("description", "")).strip(),
        query=entry["query"].strip(),
        categories=tuple(c.strip() for c in categories if c.strip()),
        exemplars=_exemplars(entry.get("exemplars", []), where),
    )


def _toml_string(value: str) -> str:
    # A basic TOML string: JSON's escapes are TOML's for the characters a topic holds.
    return json.dumps(value, ensure_ascii=False)


def topics_toml(topics: list[Topic]) -> str:
    """The topics file for `topics` (retired ones left out), which load_topics reads back the same."""
    blocks = []
    for topic in topics:
        if topic.retired is not None:
            continue
        lines = [
            "[[topic]]",
            f"slug = {_toml_string(topic.slug)}",
            f"title = {_toml_string(topic.title)}",
            f"description = {_toml_string(topic.description)}",
            f"query = {_toml_string(topic.query)}",
        ]
        if topic.categories:
            lines.append("categories = [" + ", ".join(_toml_string(c) for c in topic.categories) + "]")
        if topic.exemplars:
            lines.append("exemplars = [" + ", ".join(_toml_string(e) for e in topic.exemplars) + "]")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def same_topics(first: list[Topic], second: list[Topic]) -> bool:
    """Whether two lists name the same live topics with the same fields, in any order."""

    def key(topics: list[Topic]) -> set[tuple[Any, ...]]:
        return {
            (t.slug, t.title, t.description, t.query, t.categories, t.exemplars) for t in topics if t.retired is None
        }

    return key(first) == key(second)


def _exemplars(value: object, where: str) -> tuple[str, ...]:
    """The `exemplars` list as bare arXiv ids ("2602.03310v2" -> "2602.03310")."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TopicsError(f"{where}: 'exemplars' must be a list of arXiv ids as strings")
    if len(value) > MAX_EXEMPLARS:
        raise TopicsError(f"{where}: 'exemplars' lists {len(value)} papers; at most {MAX_EXEMPLARS}")
    ids: list[str] = []
    for item in value:
        try:
            paper_id, _ = split_arxiv_id(item)
        except ValueError:
            raise TopicsError(
                f"{where}: exemplar {item!r} is not an arXiv id (like 2602.03310 or cs/0503050)"
            ) from None
        if paper_id in ids:
            raise TopicsError(f"{where}: exemplar {paper_id!r} appears twice")
        ids.append(paper_id)
    return tuple(ids)


def find_topic(topics: list[Topic], slug: str) -> Topic | None:
    return next((topic for topic in topics if topic.slug == slug), None)
