"""Relevance of a week's papers to a topic: BM25 (bm25s) over the stemmed words of each paper's
title and abstract, queried with the topic's search terms, title and description, plus its
exemplar papers when it lists some. Offline and deterministic. bench/relevance.py measures this
against the other candidates on labelled papers (BENCHMARKS.md)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN
from bm25s.tokenization import Tokenized

from service.model.paper import Paper
from service.model.topics import Topic

# How much likeness to the exemplar papers adds, relative to the best query match of the set.
EXEMPLAR_WEIGHT = 0.5
# The "why" names at most this many matched terms.
MATCHED_SHOWN = 4
# Rounding keeps ties ties whatever order the floating-point sums ran in.
SCORE_DIGITS = 6

WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(STOPWORDS_EN) | {"paper", "papers", "using", "via"}
# One search term of an arXiv query: an optional field prefix, then a "quoted phrase" or a word.
QUERY_TERM = re.compile(r'(?:(?P<field>[a-z_]+):)?(?:"(?P<phrase>[^"]*)"|(?P<word>[^\s()"]+))')
TEXT_FIELDS = {None, "ti", "abs", "all", "co"}
OPERATORS = {"AND", "OR", "ANDNOT"}

_stemmer = Stemmer.Stemmer("english")
# bm25s sets its own logger to DEBUG on import, so every index it builds logged a line; it follows
# the application's level (PAPERBOY_LOG_LEVEL) like any other library.
logging.getLogger("bm25s").setLevel(logging.NOTSET)


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
    scores = _bm25(documents, [topic_stems(topic)])[0]
    if exemplars:
        likeness = _bm25(documents, [paper_stems(paper) for paper in exemplars]).mean(axis=0)
        scale = scores.max() if scores.max() > 0 else 1.0
        if likeness.max() > 0:
            scores = scores + EXEMPLAR_WEIGHT * scale * likeness / likeness.max()
    terms, words = _keyed(query_terms(topic.query)), _keyed(topic_words(topic))
    ranked = [
        Ranked(paper, round(float(score), SCORE_DIGITS), matched_terms(terms, stems) or matched_terms(words, stems))
        for paper, score, stems in zip(papers, scores, documents)
    ]
    ranked.sort(key=lambda entry: entry.paper.id, reverse=True)
    ranked.sort(key=lambda entry: (entry.score, entry.paper.published), reverse=True)
    return ranked


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
    """The topic as a BM25 query: its search terms, title and description, stemmed."""
    return stem_words(" ".join(query_terms(topic.query) + [topic.title, topic.description]))


def paper_stems(paper: Paper) -> list[str]:
    """The stems of the paper's title and abstract, stop words left out, in order."""
    return stem_words(f"{paper.title}. {paper.abstract}")


def stem_words(text: str) -> list[str]:
    return _stemmer.stemWords([w for w in WORD.findall(text.lower()) if w not in STOPWORDS])


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


def _bm25(documents: list[list[str]], queries: list[list[str]]) -> np.ndarray:
    """BM25 scores of every document for each query: an array of len(queries) x len(documents)."""
    # Token ids in order of first appearance, not bm25s's set order, which varies between runs.
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(stem, len(vocab)) for stem in stems] for stems in documents]
    scores = np.zeros((len(queries), len(documents)), dtype=np.float64)
    if not vocab:  # no paper has a word to match
        return scores
    # The numpy backend whether or not scipy is installed: the same sums everywhere.
    retriever = bm25s.BM25(csc_backend="numpy")
    retriever.index(Tokenized(ids=ids, vocab=vocab), show_progress=False)
    for row, query in enumerate(queries):
        known = [vocab[stem] for stem in query if stem in vocab]
        if known:
            scores[row] = retriever.get_scores_from_ids(known)
    return scores
