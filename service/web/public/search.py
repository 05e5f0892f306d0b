"""/search?q=: full-text search over titles, abstracts and authors, in the topic pages' layout."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from service.store.search import MAX_QUERY_CHARS, MIN_PREFIX, SearchTooBroad, clean_query, search_papers, short_prefixes
from service.web.extensions import current_runtime
from service.web.rate_limits import SEARCH_LIMIT, limiter

blueprint = Blueprint("search", __name__)

RESULTS = 50
# Per client: a person searches a few times a minute; a script looping over costly queries is slowed.


@blueprint.get("/search")
@limiter.limit(SEARCH_LIMIT)
def search():
    """Whatever the query holds, the answer is a page: results, none, or a prompt to type."""
    query = clean_query(request.args.get("q", ""))
    papers, error = [], None
    if query:
        try:
            with current_runtime().engine.connect() as conn:
                papers = search_papers(conn, query, limit=RESULTS)
        except SearchTooBroad as too_broad:
            error = str(too_broad)
    return render_template(
        "search.html",
        query=query,
        papers=papers,
        limit=RESULTS,
        max_chars=MAX_QUERY_CHARS,
        error=error,
        short_prefixes=short_prefixes(query),
        min_prefix=MIN_PREFIX,
    )
