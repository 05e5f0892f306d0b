"""Full-text search over papers: SQLite FTS5 (table paper_search, migration 0002) or PostgreSQL's
stored tsvector column paper.search_vector with its GIN index (migration 0004).

User text never reaches the query language as syntax: on SQLite every word becomes a quoted
FTS5 string, on PostgreSQL websearch_to_tsquery reads it, and neither can fail on odd input.
One search costs a bounded amount of work: repeated words count once, a prefix needs MIN_PREFIX
letters, at most MAX_TERMS words are read, and a search that still asks too much is stopped (a
statement timeout on PostgreSQL, a progress-handler budget on SQLite) with SearchTooBroad."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from service.model.paper import Paper
from service.store.papers import paper_from_row
from service.store.schema import paper as paper_table

# Longer queries are cut: nobody types more, and it bounds the work one request can ask for.
MAX_QUERY_CHARS = 500
MAX_TERMS = 8
# "a*" matches nearly every word in the store; a shorter prefix is searched as a whole word.
MIN_PREFIX = 3
# SQLite: the search is stopped after this many calls of the progress handler, each one
# PROGRESS_STEPS virtual-machine instructions apart: ranking every paper of a 50,000-paper store
# takes about 1,000 (0.3 s on a 2-core machine).
PROGRESS_STEPS = 1000
SQLITE_BUDGET = 5_000
# PostgreSQL: the same bound as a statement timeout, in milliseconds.
POSTGRES_TIMEOUT_MS = 2000
# Characters no database text should hold (NUL breaks PostgreSQL, the rest are noise).
UNWANTED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

# The stored column's expression (migration 0004), weighted like SQLite's bm25 weights below:
# a word in the title counts most, then authors, then the abstract.
POSTGRES_DOCUMENT = (
    "(setweight(to_tsvector('english'::regconfig, title), 'A')"
    " || setweight(to_tsvector('english'::regconfig, paper_search_authors(authors)), 'B')"
    " || setweight(to_tsvector('english'::regconfig, abstract), 'D'))"
)


class SearchTooBroad(Exception):
    """The search would take more work than one request may ask for; the message says what to do."""

    def __init__(self) -> None:
        super().__init__("This search matches too much to rank in time. Please use longer or fewer common words.")


def clean_query(raw: str) -> str:
    """The user's text made safe to bind: no control characters, bounded length."""
    return " ".join(UNWANTED.sub(" ", raw[:MAX_QUERY_CHARS]).split())


def search_words(raw: str) -> list[str]:
    """The words of `raw` that a search reads: each once (ignoring case), at most MAX_TERMS,
    and a trailing * only on a prefix of at least MIN_PREFIX characters."""
    words, seen = [], set()
    for word in clean_query(raw).split():
        stem = word.rstrip("*")
        if word != stem and len(stem) < MIN_PREFIX:
            word = stem
        if not word or word.casefold() in seen:
            continue
        seen.add(word.casefold())
        words.append(word)
        if len(words) == MAX_TERMS:
            break
    return words


def short_prefixes(raw: str) -> list[str]:
    """The words of `raw` with a trailing * on fewer than MIN_PREFIX letters ("ro*"): searched as
    whole words, which the search page says."""
    return [word for word in clean_query(raw).split() if word.endswith("*") and 0 < len(word.rstrip("*")) < MIN_PREFIX]


def fts5_query(raw: str) -> str:
    """FTS5 syntax matching every word of `raw`: '"robot" "grasp"*'; '' for no words.

    Each word is a quoted string (inner quotes doubled), so operators and parentheses in user
    text are plain words; a trailing * on a word keeps its meaning as a prefix search."""
    terms = []
    for word in search_words(raw):
        prefix = word.endswith("*")
        word = word.rstrip("*")
        if not any(ch.isalnum() for ch in word):
            continue  # only punctuation: the tokenizer would find nothing to match
        terms.append('"' + word.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " ".join(terms)


def search_papers(conn: Connection, raw: str, limit: int = 50, budget: int | None = None) -> list[Paper]:
    """Papers matching the words of `raw`, best match first; [] when there is nothing to find.
    Raises SearchTooBroad when the search outgrows its budget."""
    columns = ", ".join(f"paper.{column.name}" for column in paper_table.c)
    if conn.dialect.name == "sqlite":
        query = fts5_query(raw)
        if not query:
            return []
        statement = text(
            f"SELECT {columns} FROM paper_search JOIN paper ON paper.rowid = paper_search.rowid"
            " WHERE paper_search MATCH :query"
            " ORDER BY bm25(paper_search, 10.0, 1.0, 3.0), paper.published DESC LIMIT :limit"
        )
    else:
        query = " ".join(search_words(raw))
        if not query:
            return []
        statement = text(
            f"SELECT {columns} FROM paper, websearch_to_tsquery('english'::regconfig, :query) AS query"
            " WHERE paper.search_vector @@ query"
            " ORDER BY ts_rank(paper.search_vector, query) DESC, paper.published DESC LIMIT :limit"
        )
    with _bounded(conn, SQLITE_BUDGET if budget is None else budget):
        rows = conn.execute(statement.columns(*paper_table.c), {"query": query, "limit": limit}).mappings().all()
    return [paper_from_row(row) for row in rows]


@contextmanager
def _bounded(conn: Connection, budget: int) -> Iterator[None]:
    """Stop the statements run inside after `budget` progress steps (SQLite) or POSTGRES_TIMEOUT_MS."""
    if conn.dialect.name != "sqlite":
        with _postgres_settings(
            conn,
            {
                "statement_timeout": str(int(POSTGRES_TIMEOUT_MS)),
                # For a common word (a fifth of the store) the planner prefers reading every row to
                # the GIN index, which costs each paper's vector read and tested: 117 ms against 60 ms
                # for 10,000 matches in 50,000 papers (BENCHMARKS.md). The index is always the cheaper
                # way to the matches, so the search does without sequential scans.
                "enable_seqscan": "off",
            },
        ):
            try:
                yield
            except OperationalError as error:
                if getattr(error.orig, "sqlstate", None) == "57014":  # query_canceled
                    raise SearchTooBroad() from None
                raise
        return
    raw = conn.connection.dbapi_connection
    if not isinstance(raw, sqlite3.Connection):  # pysqlite hands out the sqlite3 module's own connection
        raise TypeError(f"store: search expects an sqlite3 connection, got {type(raw).__name__}")
    steps = 0

    def progress() -> int:
        nonlocal steps
        steps += 1
        return 1 if steps > budget else 0  # non-zero interrupts the statement

    raw.set_progress_handler(progress, PROGRESS_STEPS)
    try:
        yield
    except OperationalError:
        if steps > budget:
            raise SearchTooBroad() from None
        raise
    finally:
        raw.set_progress_handler(None, PROGRESS_STEPS)


@contextmanager
def _postgres_settings(conn: Connection, settings: dict[str, str]) -> Iterator[None]:
    """PostgreSQL settings for the statements run inside only.

    SET LOCAL lasts until the end of the whole transaction, savepoints included, so inside a
    caller's transaction the previous values are put back afterwards (a failure rolls the
    savepoint back, which puts them back too)."""
    nested = conn.in_transaction()
    with conn.begin_nested() if nested else conn.begin():
        previous = {name: conn.scalar(text("SELECT current_setting(:name)"), {"name": name}) for name in settings}
        for name, value in settings.items():
            conn.execute(text("SELECT set_config(:name, :value, true)"), {"name": name, "value": value})
        yield
        if nested:
            for name, value in previous.items():
                conn.execute(text("SELECT set_config(:name, :value, true)"), {"name": name, "value": value})
