"""arXiv's query language evaluated against one paper, enough to pick the bundled sample's papers
for a topic offline: field:term, field:"phrase", AND, OR, ANDNOT and parentheses
(https://info.arxiv.org/help/api/user-manual.html#query_details)."""

from __future__ import annotations

import re

from service.model.paper import Paper

TOKEN = re.compile(r'\s*(\(|\)|(?:[a-z_]+:)?"[^"]*"|[^\s()]+)')
FIELDS = {
    "ti": ("title",),
    "abs": ("abstract",),
    "au": ("authors",),
    "co": ("comment",),
    "cat": ("categories",),
    "jr": ("journal_ref",),
    "all": ("title", "abstract", "authors", "comment", "categories"),
}


def matches_query(query: str, paper: Paper) -> bool:
    """Whether `paper` satisfies the arXiv search `query` (terms match at word starts)."""
    tokens = [t for t in TOKEN.findall(query) if t]
    position, result = _parse_or(tokens, 0, paper)
    return result


def _parse_or(tokens, position, paper):
    position, result = _parse_and(tokens, position, paper)
    while position < len(tokens) and tokens[position] == "OR":
        position, right = _parse_and(tokens, position + 1, paper)
        result = result or right
    return position, result


def _parse_and(tokens, position, paper):
    position, result = _parse_term(tokens, position, paper)
    while position < len(tokens) and tokens[position] in ("AND", "ANDNOT"):
        negate = tokens[position] == "ANDNOT"
        position, right = _parse_term(tokens, position + 1, paper)
        result = result and (not right if negate else right)
    return position, result


def _parse_term(tokens, position, paper):
    if position >= len(tokens):
        return position, False
    token = tokens[position]
    if token == "(":
        position, result = _parse_or(tokens, position + 1, paper)
        if position < len(tokens) and tokens[position] == ")":
            position += 1
        return position, result
    return position + 1, _term_matches(token, paper)


def _term_matches(token: str, paper: Paper) -> bool:
    prefix, _, term = token.partition(":") if re.match(r"[a-z_]+:", token) else ("all", "", token)
    term = term.strip('"').rstrip("*").lower()
    if not term:
        return False
    if prefix == "cat":
        return any(category.lower().startswith(term) for category in paper.categories)
    text = " ".join(_field_text(paper, name) for name in FIELDS.get(prefix, FIELDS["all"])).lower()
    return re.search(r"(?<![a-z0-9])" + re.escape(term), text) is not None


def _field_text(paper: Paper, name: str) -> str:
    value = getattr(paper, name)
    if isinstance(value, list):
        return " ".join(value)
    return value or ""
