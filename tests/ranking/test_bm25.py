"""Scores from stored term counts (stems and stem pairs) are bm25s's scores to the bit, on real
papers."""

from __future__ import annotations

import bm25s
import numpy as np
from bm25s.tokenization import Tokenized

from service.model.terms import Terms, paper_stems, with_pairs
from service.ranking.relevance import _bm25, exemplar_query, topic_query
from tests.ranking.test_relevance import SHIPPED, TESTING, week


def bm25s_scores(documents: list[list[str]], queries: list[list[str]]) -> np.ndarray:
    """The ranking's former scoring: a bm25s index built from the terms at every call."""
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(stem, len(vocab)) for stem in stems] for stems in documents]
    scores = np.zeros((len(queries), len(documents)), dtype=np.float64)
    if not vocab:
        return scores
    retriever = bm25s.BM25(csc_backend="numpy")
    retriever.index(Tokenized(ids=ids, vocab=vocab), show_progress=False)
    for row, query in enumerate(queries):
        known = [vocab[stem] for stem in query if stem in vocab]
        if known:
            scores[row] = retriever.get_scores_from_ids(known)
    return scores


def test_scores_from_counts_equal_bm25s_scores_exactly():
    papers = week()
    documents = [with_pairs(paper_stems(paper)) for paper in papers]
    queries = [topic_query(topic) for topic in [TESTING, *SHIPPED.values()]]
    queries += [exemplar_query(paper) for paper in papers[:5]]  # exemplars query with whole abstracts
    for chosen in (documents, documents[:7], documents[40:], [[], *documents[:3], []]):
        terms = [Terms.of(document) for document in chosen]
        ours = _bm25([t.length for t in terms], [t.entries for t in terms], queries)
        assert np.array_equal(ours, bm25s_scores(chosen, queries))
        assert ours.any()


def test_documents_without_words_score_zero():
    empty = Terms.of([])
    assert not _bm25([0, 0], [empty.entries, empty.entries], [["test"]]).any()


def test_the_stop_words_are_bm25s_s():
    """Written out in service/model/terms.py, so that no process loads bm25s (and scipy)."""
    from bm25s.stopwords import STOPWORDS_EN

    from service.model.terms import LUCENE_STOPWORDS

    assert LUCENE_STOPWORDS == STOPWORDS_EN
