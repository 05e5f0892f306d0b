"""Relevance of a week's papers to a topic: BM25 over the stemmed words of each paper's title and
abstract and the pairs of neighbouring stems, queried with the topic's search terms, title and
description, plus its exemplar papers when it lists some. Offline and deterministic.
bench/relevance.py measures this against the other candidates on labelled papers (BENCHMARKS.md).

The terms are counted once per paper when it is stored (service/model/terms.py); a ranking reads
the counts of the query's terms only, so its cost is a few array operations per paper. The sums
are bm25s's (Lucene BM25, k1 1.5, b 0.75, float32 scores) to the bit (tests/ranking/test_bm25.py
compares the two)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, overload

import numpy as np

from service.model.paper import Paper
from service.model.terms import ENTRY, STOPWORDS, Terms, Window, paper_stems, stem_key, stem_words, with_pairs
from service.model.topics import Topic

# How much likeness to the exemplar papers adds, relative to the best query match of the set.
EXEMPLAR_WEIGHT = 0.5
# The "why" names at most this many matched terms.
MATCHED_SHOWN = 4
# Rounding keeps ties ties whatever order the floating-point sums ran in.
SCORE_DIGITS = 6

# bm25s's defaults, which the rankings were tuned with.
K1, B = 1.5, 0.75
# One search term of an arXiv query: an optional field prefix, then a "quoted phrase" or a word.
QUERY_TERM = re.compile(r'(?:(?P<field>[a-z_]+):)?(?:"(?P<phrase>[^"]*)"|(?P<word>[^\s()"]+))')
TEXT_FIELDS = {None, "ti", "abs", "all", "co"}
OPERATORS = {"AND", "OR", "ANDNOT"}


@dataclass(frozen=True)
class Ranked:
    paper: Paper
    score: float  # higher is more relevant; compares only within one call of rank()
    matched: tuple[str, ...]  # the topic's terms found in the paper, for a short "why"


def rank(topic: Topic, papers: Sequence[Paper], exemplars: Sequence[Paper] = ()) -> list[Ranked]:
    """Papers ordered by relevance to the topic, best first; ties broken newest first, then by
    arXiv id. `exemplars` are papers of the topic's `exemplars` list that the caller holds."""
    if not papers:
        return []
    documents = [paper_stems(paper) for paper in papers]
    terms = [Terms.of(with_pairs(stems)) for stems in documents]
    scores = _scores(topic, [t.length for t in terms], [t.entries for t in terms], exemplars)
    ranked = [
        Ranked(paper, score, why(topic, stems)) for paper, score, stems in zip(papers, scores, documents, strict=True)
    ]
    ranked.sort(key=lambda entry: entry.paper.id, reverse=True)
    ranked.sort(key=lambda entry: (entry.score, entry.paper.published), reverse=True)
    return ranked


class RankedId(NamedTuple):
    """One paper of a ranked window, by id: the paper itself is loaded only when shown."""

    id: str
    linked: bool  # belongs in the first section, "Papers with Project Pages / Code"
    score: float


def rank_window(topic: Topic, window: Window, exemplars: Sequence[Paper] = ()) -> RankedWindow:
    """The papers in the seed's sections (with code or a project page first), each in rank()'s
    order: most relevant first, ties newest first, then by arXiv id."""
    scores = np.array(_scores(topic, window.lengths, window.entries, exemplars), dtype=np.float64)
    linked = np.array(window.linked, dtype=bool)
    # Ascending by score, then date, then id (ids are unique), reversed: rank()'s order.
    order = np.lexsort((np.array(window.ids), np.array(window.published), scores))[::-1]
    order = np.concatenate((order[linked[order]], order[~linked[order]]))
    return RankedWindow(window.ids, linked, scores, order)


class RankedWindow(Sequence[RankedId]):
    """A ranked window's papers in order, each made a RankedId only when asked for: a page reads
    100 of a window's thousands."""

    def __init__(self, ids: list[str], linked: np.ndarray, scores: np.ndarray, order: np.ndarray) -> None:
        self._ids, self._linked, self._scores, self._order = ids, linked, scores, order

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, index: int) -> RankedId: ...

    @overload
    def __getitem__(self, index: slice) -> list[RankedId]: ...

    def __getitem__(self, index: int | slice) -> RankedId | list[RankedId]:
        if isinstance(index, slice):
            return [self._entry(place) for place in self._order[index].tolist()]
        return self._entry(int(self._order[index]))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def _entry(self, place: int) -> RankedId:
        return RankedId(self._ids[place], bool(self._linked[place]), float(self._scores[place]))


def relevance_scores(topic: Topic, terms: Sequence[Terms]) -> list[float]:
    """Each paper's score for the topic, from its term counts, in the given order."""
    return _scores(topic, [t.length for t in terms], [t.entries for t in terms])


def ranking_keys(topic: Topic, exemplars: Sequence[Paper] = ()) -> np.ndarray:
    """The keys of every term a ranking for the topic looks up, sorted: a paper's other terms
    change no score, so a caller may keep only these (service.model.terms.only)."""
    terms = set(topic_query(topic)).union(*(exemplar_query(paper) for paper in exemplars))
    return np.array(sorted(stem_key(term) for term in terms), dtype=np.uint64)


def _scores(
    topic: Topic, lengths: Sequence[int], entries: Sequence[bytes], exemplars: Sequence[Paper] = ()
) -> list[float]:
    """Each document's score for the topic, rounded, in the documents' order."""
    if not lengths:
        return []
    scores = _bm25(lengths, entries, [topic_query(topic)])[0]
    if exemplars:
        likeness = _bm25(lengths, entries, [exemplar_query(paper) for paper in exemplars]).mean(axis=0)
        scale = scores.max() if scores.max() > 0 else 1.0
        if likeness.max() > 0:
            scores = scores + EXEMPLAR_WEIGHT * scale * likeness / likeness.max()
    rounded: list[float] = np.round(scores, SCORE_DIGITS).tolist()
    return rounded


def why(topic: Topic, stems: list[str]) -> tuple[str, ...]:
    """The topic's search terms found in a paper's stems, else the words of its title and description.

    A topic of categories only (cat:cs.RO) matched its papers by category, which its words do not
    explain: it names nothing."""
    terms = _keyed(query_terms(topic.query))
    if not terms:
        return ()
    return matched_terms(terms, stems) or matched_terms(_keyed(topic_words(topic)), stems)


def query_terms(query: str) -> list[str]:
    """The text search terms of an arXiv query, in order: 'ti:"world model" AND cat:cs.RO'
    gives ['world model']. Category and author terms and ANDNOT'd terms are left out."""
    terms, negated = [], False
    for match in QUERY_TERM.finditer(query):
        word = match["word"]
        if word in OPERATORS:
            negated = word == "ANDNOT"
            continue
        text = (match["phrase"] if match["phrase"] is not None else word or "").strip()
        if text and not negated and match["field"] in TEXT_FIELDS and text not in terms:
            terms.append(text)
        negated = False
    return terms


def topic_words(topic: Topic) -> list[str]:
    """The words of the topic's title and description, as the "why" names them."""
    return [
        word if word.isupper() else word.lower()
        for word in re.findall(r"[\w-]+", f"{topic.title} {topic.description}")
        if word.lower() not in STOPWORDS and len(word) > 2
    ]


def topic_stems(topic: Topic) -> list[str]:
    """The topic's search terms, title and description, stemmed."""
    return stem_words(" ".join(query_terms(topic.query) + [topic.title, topic.description]))


def topic_query(topic: Topic) -> list[str]:
    """The topic as a BM25 query: its stems and their pairs, as papers are counted."""
    return with_pairs(topic_stems(topic))


def exemplar_query(paper: Paper) -> list[str]:
    """An exemplar paper as a BM25 query: every term of its title and abstract."""
    return with_pairs(paper_stems(paper))


def matched_terms(terms: list[tuple[str, str, str]], stems: list[str]) -> tuple[str, ...]:
    """The terms (as the topic spells them) whose stems occur in a row in `stems`."""
    text = " " + " ".join(stems) + " "
    found: list[str] = []
    seen: list[str] = []
    for term, key, plain in terms:
        # A plural of a named term ("LLMs" after "LLM"), or a word already named inside a
        # matched phrase ("language" in "large language model"), adds nothing.
        if f" {key} " in text and not any(f" {plain} " in f" {done} " for done in seen):
            seen.append(plain)
            found.append(term)
    return tuple(found[:MATCHED_SHOWN])


def _keyed(terms: list[str]) -> list[tuple[str, str, str]]:
    """(term, its stems joined, the same without plural s) for every term with stems."""
    keyed = []
    for term in terms:
        key = " ".join(stem_words(term))
        if key:
            keyed.append((term, key, " ".join(word.removesuffix("s") for word in key.split())))
    return keyed


def _bm25(lengths: Sequence[int], entries: Sequence[bytes], queries: list[list[str]]) -> np.ndarray:
    """BM25 scores of every document (its term count and ENTRY bytes) for each query: an array of
    len(queries) x len(documents).

    As bm25s computes them: each (document, term) score in float32 from a float32 idf and a
    float64 term weight, and a query's scores summed in float32 in the query's order."""
    count = len(lengths)
    scores = np.zeros((len(queries), count), dtype=np.float64)
    joined = np.frombuffer(b"".join(entries), dtype=ENTRY)
    if not joined.size:  # no paper has a word to match
        return scores
    sizes = np.fromiter(map(len, entries), dtype=np.int64, count=count) // ENTRY.itemsize
    owners = np.repeat(np.arange(count), sizes)
    terms_in_all = np.array(lengths, dtype=np.int64)
    # Only the entries of terms some query names matter.
    wanted = sorted({stem_key(term) for query in queries for term in query})
    keys = np.array(wanted, dtype=np.uint64)
    columns: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if wanted:
        # Most entries name no query term: keep the others first, then find which term each is.
        hit = np.isin(joined["key"], keys)
        places = np.searchsorted(keys, joined["key"][hit])
        owners, tf = owners[hit], joined["count"][hit].astype(np.float64)
        average = terms_in_all.mean()
        weight = K1 * ((1 - B) + B * terms_in_all / average)
        tfc = tf / (weight[owners] + tf)
        order = np.argsort(places, kind="stable")
        bounds = np.searchsorted(places[order], np.arange(len(keys) + 1))
        for index in range(len(keys)):
            rows = order[bounds[index] : bounds[index + 1]]
            if rows.size:
                found = int(rows.size)  # documents holding the term: one entry each
                idf = np.float32(math.log(1 + (count - found + 0.5) / (found + 0.5)))
                columns[wanted[index]] = (owners[rows], (idf * tfc[rows]).astype(np.float32))
    for row, query in enumerate(queries):
        total = np.zeros(count, dtype=np.float32)
        for term in query:
            column = columns.get(stem_key(term))
            if column is not None:
                total[column[0]] += column[1]
        scores[row] = total
    return scores
