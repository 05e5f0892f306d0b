"""A paper's words as relevance ranking counts them: the stems of its title and abstract, stop
words left out, and each pair of neighbouring stems ("world model"). Counted once when the paper
is stored (service/store/papers.py keeps them), so ranking a week of papers reads counts instead
of stemming every abstract again."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import Stemmer

from service.model.paper import Paper

WORD = re.compile(r"[a-z0-9]+")
# Lucene's English stop words, as bm25s ships them (the rankings were measured with these;
# tests/ranking/test_bm25.py keeps the two equal), and four that every abstract says. Written
# out: importing bm25s for them loads scipy, 12 MB more in every process (the sender: 101 to 89 MB).
# fmt: off
LUCENE_STOPWORDS = (
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they",
    "this", "to", "was", "will", "with",
)
# fmt: on
STOPWORDS = frozenset(LUCENE_STOPWORDS) | {"paper", "papers", "using", "via"}
# One entry per distinct term of a paper: the term's key, then how often it occurs.
ENTRY = np.dtype([("key", "<u8"), ("count", "<u4")])

_stemmer = Stemmer.Stemmer("english")


@dataclass(frozen=True)
class Terms:
    """A paper's term counts: `length` terms in all, `entries` one per distinct term (ENTRY); a
    term is a stem or a pair of stems."""

    length: int
    entries: bytes

    @classmethod
    def of(cls, terms: list[str]) -> Terms:
        counts: dict[int, int] = {}
        for term in terms:
            key = stem_key(term)
            counts[key] = counts.get(key, 0) + 1
        entries = np.array(sorted(counts.items()), dtype=ENTRY) if counts else np.zeros(0, dtype=ENTRY)
        return cls(len(terms), entries.tobytes())


@dataclass
class Window:
    """Papers to rank, field by field (one list per field, all in the same order): a window of
    thousands of papers costs a few lists, not thousands of objects."""

    ids: list[str] = field(default_factory=list)
    published: list[Any] = field(default_factory=list)  # compared only with each other
    linked: list[bool] = field(default_factory=list)  # has code or a project page
    lengths: list[int] = field(default_factory=list)
    entries: list[bytes] = field(default_factory=list)

    def add(self, paper_id: str, published: Any, linked: bool, terms: Terms) -> None:
        self.ids.append(paper_id)
        self.published.append(published)
        self.linked.append(linked)
        self.lengths.append(terms.length)
        self.entries.append(terms.entries)


def only(entries: bytes, keys: np.ndarray) -> bytes:
    """The entries of the terms whose keys are in `keys` (sorted): all that a ranking by those
    terms reads of a paper."""
    found = np.frombuffer(entries, dtype=ENTRY)
    return found[np.isin(found["key"], keys)].tobytes()


def stem_words(text: str) -> list[str]:
    stems: list[str] = _stemmer.stemWords([w for w in WORD.findall(text.lower()) if w not in STOPWORDS])
    return stems


def paper_stems(paper: Paper) -> list[str]:
    """The stems of the paper's title and abstract, stop words left out, in order."""
    return stem_words(f"{paper.title}. {paper.abstract}")


def with_pairs(stems: list[str]) -> list[str]:
    """The stems, then each pair of neighbouring stems as one term ("world model"): a paper that
    names "world models" ranks above one that says "world" and "model" apart (bench/relevance.py
    measured the pairs' gain on labelled papers, BENCHMARKS.md)."""
    return stems + [f"{first} {second}" for first, second in zip(stems, stems[1:])]


def paper_terms(paper: Paper) -> Terms:
    return Terms.of(with_pairs(paper_stems(paper)))


def stem_key(term: str) -> int:
    """A term (a stem or a pair) as a 64-bit number, the same in every process (Python's hash()
    is not)."""
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=8).digest(), "little")
