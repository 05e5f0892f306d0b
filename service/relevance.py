"""Relevance of a week's papers to a topic.

Placeholder with the final interface: it orders newest first with score 0.0 and no matched
terms. The scoring module that ranks by relevance replaces this file as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from service.paper import Paper
from service.topics import Topic


@dataclass(frozen=True)
class Ranked:
    paper: Paper
    score: float
    matched: tuple[str, ...]  # matched terms, for a short "why"


def rank(topic: Topic, papers: Sequence[Paper]) -> list[Ranked]:
    """Papers ordered by relevance to the topic, best first; ties newest first, then arXiv id."""
    by_id = sorted(papers, key=lambda paper: paper.id, reverse=True)
    newest_first = sorted(by_id, key=lambda paper: paper.published, reverse=True)
    return [Ranked(paper, 0.0, ()) for paper in newest_first]
