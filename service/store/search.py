"""Full-text search over papers: SQLite FTS5 (table paper_search) or PostgreSQL tsvector
(index ix_paper_search), both created by migration 0002.

User text never reaches the query language as syntax: on SQLite every word becomes a quoted
FTS5 string, on PostgreSQL websearch_to_tsquery reads it, and neither can fail on odd input."""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.engine import Connection

from service.paper import Paper
from service.store.papers import paper_from_row
from service.store.schema import paper as paper_table

# Longer queries are cut: nobody types more, and it bounds the work one request can ask for.
MAX_QUERY_CHARS = 500
MAX_TERMS = 32
# Characters no database text should hold (NUL breaks PostgreSQL, the rest are noise).
UNWANTED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

# Keep in step with the index in migrations/versions/0002_search.py.
# Weighted like SQLite's bm25 weights below: a word in the title counts most, then authors.
POSTGRES_DOCUMENT = (
    "(setweight(to_tsvector('english'::regconfig, title), 'A')"
    " || setweight(to_tsvector('english'::regconfig, paper_search_authors(authors)), 'B')"
    " || setweight(to_tsvector('english'::regconfig, abstract), 'D'))"
)


def clean_query(raw: str) -> str:
    """The user's text made safe to bind: no control characters, bounded length."""
    return " ".join(UNWANTED.sub(" ", raw[:MAX_QUERY_CHARS]).split())


def fts5_query(raw: str) -> str:
    """FTS5 syntax matching every word of `raw`: '"robot" "grasp"*'; '' for no words.

    Each word is a quoted string (inner quotes doubled), so operators and parentheses in user
    text are plain words; a trailing * on a word keeps its meaning as a prefix search."""
    terms = []
    for word in clean_query(raw).split()[:MAX_TERMS]:
        prefix = word.endswith("*")
        word = word.rstrip("*")
        if not any(ch.isalnum() for ch in word):
            continue  # only punctuation: the tokenizer would find nothing to match
        terms.append('"' + word.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " ".join(terms)


def search_papers(conn: Connection, raw: str, limit: int = 50) -> list[Paper]:
    """Papers matching the words of `raw`, best match first; [] when there is nothing to find."""
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
        query = clean_query(raw)
        if not query:
            return []
        statement = text(
            f"SELECT {columns} FROM paper"
            f" WHERE {POSTGRES_DOCUMENT} @@ websearch_to_tsquery('english'::regconfig, :query)"
            f" ORDER BY ts_rank({POSTGRES_DOCUMENT}, websearch_to_tsquery('english'::regconfig, :query)) DESC,"
            " paper.published DESC LIMIT :limit"
        )
    rows = conn.execute(
        statement.columns(*paper_table.c), {"query": query, "limit": limit}
    ).mappings()
    return [paper_from_row(row) for row in rows]
