"""The ranking candidates bench/relevance.py measures. Each scores a topic's papers (higher is more
relevant), optionally helped by the topic's exemplar papers."""

from __future__ import annotations

from pathlib import Path


def _query_text(topic):
    from service.ranking.relevance import query_terms

    return " ".join(query_terms(topic.query) + [topic.title, topic.description or ""])


def _paper_text(paper):
    return f"{paper.title}. {paper.abstract}"


class QueryTerms:
    """Baseline: how many of the topic's search terms the paper holds, twice for its title."""

    def __init__(self):
        from service.ranking import relevance

        self.relevance = relevance

    def scores(self, topic, papers, exemplars=()):
        r = self.relevance
        terms = [" ".join(r.stem_words(term)) for term in r.query_terms(topic.query)]
        result = []
        for paper in papers:
            title = " " + " ".join(r.stem_words(paper.title)) + " "
            abstract = " " + " ".join(r.stem_words(paper.abstract)) + " "
            result.append(sum(2 * (f" {t} " in title) + (f" {t} " in abstract) for t in terms))
        return result


class Bm25Words:
    """bm25s as its README uses it: its tokenizer (English stop words, Snowball stems), one word
    per token; the query is the topic's search terms, title and description."""

    def __init__(self):
        import bm25s
        import Stemmer

        self.bm25s, self.stemmer = bm25s, Stemmer.Stemmer("english")

    def scores(self, topic, papers, exemplars=()):
        tokenize = self.bm25s.tokenize
        corpus = tokenize([_paper_text(p) for p in papers], stopwords="en", stemmer=self.stemmer, show_progress=False)
        retriever = self.bm25s.BM25()
        retriever.index(corpus, show_progress=False)
        stems = tokenize(
            _query_text(topic), stopwords="en", stemmer=self.stemmer, return_ids=False, show_progress=False
        )
        known = [corpus.vocab[s] for s in stems[0] if s in corpus.vocab]
        return list(retriever.get_scores_from_ids(known)) if known else [0.0] * len(papers)


class Shipped:
    """service/ranking/relevance.py: BM25 over stems and pairs of neighbouring stems (bm25s's sums
    to the bit), queried with the topic's stems and pairs; exemplars add their mean BM25 likeness,
    scaled to half the best query score."""

    uses_exemplars = False

    def __init__(self):
        from service.ranking.relevance import rank

        self.rank = rank

    def scores(self, topic, papers, exemplars=()):
        given = exemplars if self.uses_exemplars else ()
        by_id = {entry.paper.id: entry.score for entry in self.rank(topic, papers, given)}
        return [by_id[p.id] for p in papers]


class ShippedExemplars(Shipped):
    """The shipped ranking given the topic's exemplar papers (as pages rank with topics.toml's)."""

    uses_exemplars = True


class Bm25StemsOnly:
    """The ranking shipped before pairs were counted: the same BM25 and exemplars over stems alone."""

    uses_exemplars = False

    def __init__(self):
        from service.model.terms import Terms, paper_stems
        from service.ranking import relevance

        self.terms, self.paper_stems, self.relevance = Terms, paper_stems, relevance

    def scores(self, topic, papers, exemplars=()):
        r = self.relevance
        counted = [self.terms.of(self.paper_stems(p)) for p in papers]
        lengths, entries = [t.length for t in counted], [t.entries for t in counted]
        scores = r._bm25(lengths, entries, [r.topic_stems(topic)])[0]
        if self.uses_exemplars and exemplars:
            likeness = r._bm25(lengths, entries, [self.paper_stems(p) for p in exemplars]).mean(axis=0)
            scale = scores.max() if scores.max() > 0 else 1.0
            if likeness.max() > 0:
                scores = scores + r.EXEMPLAR_WEIGHT * scale * likeness / likeness.max()
        return list(scores)


class Bm25StemsOnlyExemplars(Bm25StemsOnly):
    uses_exemplars = True


class TfIdf:
    """scikit-learn TfidfVectorizer (words and word pairs, sublinear tf), cosine to the topic; with
    exemplars, plus the mean cosine to them."""

    uses_exemplars = False

    def __init__(self):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.metrics.pairwise import linear_kernel

        self.vectorizer, self.kernel = TfidfVectorizer, linear_kernel

    def scores(self, topic, papers, exemplars=()):
        from service.ranking.relevance import query_terms

        vectorizer = self.vectorizer(stop_words="english", sublinear_tf=True, ngram_range=(1, 2))
        documents = vectorizer.fit_transform([_paper_text(p) for p in papers])
        query = " ".join(query_terms(topic.query) * 2 + [topic.title, topic.description or ""])
        result = self.kernel(vectorizer.transform([query]), documents)[0]
        if self.uses_exemplars and exemplars:
            likeness = self.kernel(vectorizer.transform([_paper_text(p) for p in exemplars]), documents)
            result = result + likeness.mean(axis=0)
        return list(result)


class TfIdfExemplars(TfIdf):
    uses_exemplars = True


class TfIdfStems:
    """TF-IDF written out over paperboy's stems (stop words out, Snowball stems) and pairs of
    neighbouring stems: sublinear tf, smooth idf (scikit-learn's formulas), cosine to the topic's
    stems; with exemplars, plus the mean cosine to them (the dot product with their mean vector)."""

    uses_exemplars = False

    def __init__(self):
        from service.model.terms import paper_stems
        from service.ranking.relevance import topic_stems

        self.paper_stems, self.topic_stems = paper_stems, topic_stems

    def scores(self, topic, papers, exemplars=()):
        import math
        from collections import Counter

        def terms(stems):
            return Counter(stems + [f"{a} {b}" for a, b in zip(stems, stems[1:])])

        documents = [terms(self.paper_stems(p)) for p in papers]
        df = Counter(t for d in documents for t in d)
        idf = {t: math.log((1 + len(documents)) / (1 + c)) + 1 for t, c in df.items()}
        unseen = math.log(1 + len(documents)) + 1

        def vector(counts):
            v = {t: (1 + math.log(c)) * idf.get(t, unseen) for t, c in counts.items()}
            norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
            return {t: x / norm for t, x in v.items()}

        def dot(a, b):
            if len(a) > len(b):
                a, b = b, a
            return sum(x * b.get(t, 0.0) for t, x in a.items())

        vectors = [vector(d) for d in documents]
        query = vector(terms(self.topic_stems(topic)))
        result = [dot(query, v) for v in vectors]
        if self.uses_exemplars and exemplars:
            mean = Counter()
            for p in exemplars:
                mean.update({t: x / len(exemplars) for t, x in vector(terms(self.paper_stems(p))).items()})
            result = [r + dot(mean, v) for r, v in zip(result, vectors)]
        return result


class TfIdfStemsExemplars(TfIdfStems):
    uses_exemplars = True


class WordLlama:
    """wordllama's model shipped in its wheel (l2_supercat, 256 dimensions, the only ones it ships), cosine of the
    topic's text to title + abstract; with exemplars, plus the mean cosine to them."""

    uses_exemplars = False

    def __init__(self):
        import wordllama
        from wordllama import WordLlama as Model

        # The wheel ships the tokenizer in tokenizers/, where load() looks only for a cache.
        self.model = Model.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)

    def scores(self, topic, papers, exemplars=()):
        import numpy as np

        vectors = np.asarray(self.model.embed([_paper_text(p) for p in papers], norm=True))
        result = vectors @ np.asarray(self.model.embed([_query_text(topic)], norm=True))[0]
        if self.uses_exemplars and exemplars:
            examples = np.asarray(self.model.embed([_paper_text(p) for p in exemplars], norm=True))
            result = result + (vectors @ examples.T).mean(axis=1)
        return [float(s) for s in result]


class WordLlamaExemplars(WordLlama):
    uses_exemplars = True


METHODS = {
    "query terms": QueryTerms,
    "bm25s words": Bm25Words,
    "bm25 over stems (before)": Bm25StemsOnly,
    "bm25 over stems (before) + exemplars": Bm25StemsOnlyExemplars,
    "bm25 (shipped)": Shipped,
    "bm25 (shipped) + exemplars": ShippedExemplars,
    "tf-idf over stems": TfIdfStems,
    "tf-idf over stems + exemplars": TfIdfStemsExemplars,
    "scikit-learn tf-idf": TfIdf,
    "scikit-learn tf-idf + exemplars": TfIdfExemplars,
    "wordllama 256": WordLlama,
    "wordllama 256 + exemplars": WordLlamaExemplars,
}
