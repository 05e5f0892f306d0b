"""A ranking of one's own: a reader's "More like this" and "Fewer like this" votes re-order a
topic's papers in their digest. Offline, deterministic, and free when a reader has not voted.

Each paper is a TF-IDF vector over the stems ranking already uses (service/model/terms.py),
normalised to length 1. A paper's likeness to the reader is its cosine similarity to the nearest
paper they liked, less that to the nearest paper they rejected; the topic's own order counts for
TOPIC_WEIGHT of the sort key, so the votes move papers without throwing that order away.
bench/reader_votes.py chose nearest-neighbour over a Rocchio centroid and set the weights
(BENCHMARKS.md, "A ranking of one's own")."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from service.model.paper import Paper
from service.model.terms import paper_stems

# Sort key: TOPIC_WEIGHT * (1 - place / count) + likeness. Likeness runs from -1 to 1.
TOPIC_WEIGHT = 0.05
# A paper this close to one the reader liked says so ("like '...' that you marked").
REASON_SIMILARITY = 0.08
TITLE_SHOWN = 60

Vector = dict[str, float]


@dataclass(frozen=True)
class Reordered:
    paper: Paper
    because: str  # "like '<title>' that you marked" when close to a liked paper, else ""


class PaperVectors:
    """TF-IDF vectors of papers, with document frequencies from one week's papers; kept per id."""

    def __init__(self, week_papers: Iterable[Paper]):
        self.frequency: Counter[str] = Counter()
        self.documents = 0
        self._stems: dict[str, list[str]] = {}
        for paper in week_papers:
            self.documents += 1
            self.frequency.update(set(self._stems_of(paper)))
        self._vectors: dict[str, Vector] = {}

    def _stems_of(self, paper: Paper) -> list[str]:
        stems = self._stems.get(paper.id)
        if stems is None:
            stems = self._stems[paper.id] = paper_stems(paper)
        return stems

    def vector(self, paper: Paper) -> Vector:
        found = self._vectors.get(paper.id)
        if found is None:
            counts = Counter(self._stems_of(paper))
            weights = {
                stem: (1 + math.log(count)) * math.log((1 + self.documents) / (1 + self.frequency[stem])) + 1e-9
                for stem, count in counts.items()
            }
            norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
            found = self._vectors[paper.id] = {stem: w / norm for stem, w in weights.items()}
        return found


def cosine(a: Vector, b: Vector) -> float:
    if len(b) < len(a):
        a, b = b, a
    return sum(weight * b.get(stem, 0.0) for stem, weight in a.items())


def reorder(
    papers: Sequence[Paper], liked: Sequence[Paper], rejected: Sequence[Paper], vectors: PaperVectors
) -> list[Reordered]:
    """`papers` (in the topic's order) in the reader's order; the topic's order when they gave no votes."""
    if not liked and not rejected:
        return [Reordered(paper, "") for paper in papers]
    liked_vectors = [(paper, vectors.vector(paper)) for paper in liked]
    rejected_vectors = [vectors.vector(paper) for paper in rejected]
    count = len(papers)
    keyed = []
    for place, paper in enumerate(papers):
        vector = vectors.vector(paper)
        nearest, like = _nearest(vector, liked_vectors)
        dislike = max((cosine(vector, other) for other in rejected_vectors), default=0.0)
        key = TOPIC_WEIGHT * (1 - place / count) + like - dislike
        close = nearest is not None and like >= REASON_SIMILARITY and like > dislike
        because = f"like '{_short(nearest.title)}' that you marked" if close and nearest else ""
        keyed.append((-key, place, Reordered(paper, because)))
    keyed.sort(key=lambda entry: (entry[0], entry[1]))
    return [entry for _, _, entry in keyed]


def _nearest(vector: Vector, liked: list[tuple[Paper, Vector]]) -> tuple[Paper | None, float]:
    best: tuple[Paper | None, float] = (None, 0.0)
    for paper, other in liked:
        similarity = cosine(vector, other)
        if similarity > best[1]:
            best = (paper, similarity)
    return best


def _short(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= TITLE_SHOWN else title[: TITLE_SHOWN - 1].rstrip() + "…"
