"""/search?q=: full-text search over titles, abstracts and authors, in the topic pages' layout."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from service.store.search import MAX_QUERY_CHARS, clean_query, search_papers
from service.web_extensions import current_runtime

blueprint = Blueprint("search", __name__)

RESULTS = 50


@blueprint.get("/search")
def search():
    """Whatever the query holds, the answer is a page: results, none, or a prompt to type."""
    query = clean_query(request.args.get("q", ""))
    papers = []
    if query:
        with current_runtime().engine.connect() as conn:
            papers = search_papers(conn, query, limit=RESULTS)
    return render_template(
        "search.html", query=query, papers=papers, limit=RESULTS, max_chars=MAX_QUERY_CHARS
    )
