"""What one subscriber's digest holds: each topic's papers ranked by relevance, narrowed by the
subscriber's keywords, with papers by followed authors first, then cut to a few papers in full,
a list of title links, and a count of the rest that links to the topic's week page.

`WeekPapers` prepares a digest once (ranking, word sets, an author index) so that selecting for
each of thousands of subscribers is a handful of set lookups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cached_property

from service.model.paper import Paper, sections
from service.model.preferences import LENGTH_FULL, LENGTH_TITLES, DigestPreferences
from service.model.terms import Terms, paper_terms
from service.model.topics import Topic
from service.ranking.reader import PaperVectors, reorder
from service.ranking.relevance import rank, relevance_scores
from subscribers.preferences import author_key, fold

# Papers per topic in full by default. Five topics (every shipped one) of a heavy week, with 8
# papers in full and 15 title links each, come to about 75 KB of minified HTML: well under
# Gmail's 102 KB, with room for long titles and followed authors (bench/heavy_week.py measures it).
FULL_PER_TOPIC = 8
TITLES_PER_TOPIC = 15
# "You might also like" holds at most this many papers from outside the subscriber's topics.
SUGGESTED = 3


@dataclass(frozen=True)
class Pick:
    """One paper as a subscriber sees it."""

    paper: Paper
    also_in: tuple[str, ...] = ()  # titles of the subscriber's other topics that hold it
    followed: tuple[str, ...] = ()  # followed authors on it, as the paper spells them
    matched: tuple[str, ...] = ()  # terms that made it relevant to the topic
    because: str = ""  # why the reader's own votes moved it up, or why it is suggested


@dataclass(frozen=True)
class TopicPicks:
    topic: Topic
    full: tuple[Pick, ...]  # with abstracts, followed authors' papers first
    titles: tuple[Pick, ...]  # one line each
    more: int  # the topic's papers this week that are not in the mail
    hidden: int  # of those, left out by the subscriber's keywords
    total: int  # the topic's papers this week (shown under this topic)
    week_url: str

    @property
    def followed_full(self) -> tuple[Pick, ...]:
        return tuple(pick for pick in self.full if pick.followed)

    @cached_property  # asked for by the HTML and the text part
    def sections(self) -> list[tuple[str, list[Pick]]]:
        """The seed page's two sections over the other full papers, each in ranked order."""
        rest = [pick for pick in self.full if not pick.followed]
        by_id = {pick.paper.id: pick for pick in rest}
        return [(name, [by_id[p.id] for p in papers]) for name, papers in sections([p.paper for p in rest])]


@dataclass(frozen=True)
class ReaderVotes:
    """The papers a reader marked "More like this" and "Fewer like this"."""

    liked: tuple[Paper, ...] = ()
    rejected: tuple[Paper, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.liked or self.rejected)


NO_VOTES = ReaderVotes()


@dataclass(frozen=True)
class Selection:
    followed: tuple[Pick, ...]  # papers by followed authors that none of the subscriber's topics hold
    topics: tuple[TopicPicks, ...]
    suggested: tuple[Pick, ...] = ()  # "You might also like": from outside the subscriber's topics

    @property
    def count(self) -> int:
        """Papers in the mail, in full or as a title."""
        return len(self.followed) + len(self.suggested) + sum(len(t.full) + len(t.titles) for t in self.topics)

    @property
    def empty(self) -> bool:
        """Nothing left to mail: the subscriber's filters left out every paper."""
        return self.count - len(self.suggested) == 0

    def shortened(self) -> Selection:
        """Every full paper as a title link instead."""
        return replace(
            self, suggested=(), topics=tuple(replace(t, full=(), titles=t.full + t.titles) for t in self.topics)
        )

    def counted_only(self) -> Selection:
        """Topics reduced to their count and week-page link; followed authors' papers stay."""
        return replace(
            self,
            suggested=(),
            topics=tuple(
                replace(t, full=(), titles=(), more=t.more + len(t.full) + len(t.titles)) for t in self.topics
            ),
        )


@dataclass(frozen=True)
class _Indexed:
    words: frozenset[str]
    text: str  # " folded title and abstract ", for phrases


class WeekPapers:
    """A digest's papers prepared once for selecting per subscriber."""

    def __init__(
        self,
        topics: list[Topic],
        papers: dict[str, list[Paper]],
        extra: Iterable[Paper],
        week_url,
        exemplars: dict[str, list[Paper]] | None = None,
    ):
        self.topics = topics
        self.week_url = week_url  # slug -> the topic's week page
        exemplars = exemplars or {}
        self.ranked = {t.slug: rank(t, papers.get(t.slug, []), exemplars.get(t.slug, ())) for t in topics}
        self.index: dict[str, _Indexed] = {}
        self.by_author: dict[str, list[Paper]] = {}
        everything = {p.id: p for p in extra}
        everything.update({r.paper.id: r.paper for ranked in self.ranked.values() for r in ranked})
        self.papers = everything
        for paper in everything.values():
            folded = fold(f"{paper.title} {paper.abstract}")
            self.index[paper.id] = _Indexed(frozenset(folded.split()), f" {folded} ")
            for name in paper.authors:
                self.by_author.setdefault(author_key(name), []).append(paper)
        self._sets: dict[tuple[str, ...], list[tuple[Topic, list[Pick]]]] = {}
        self._outside_scores: dict[str, dict[str, float]] = {}
        self._suggested: dict[tuple[str, ...], tuple[Pick, ...]] = {}
        self._matching: dict[tuple[str, ...], frozenset[str]] = {}
        self._matching_one: dict[str, frozenset[str]] = {}

    @cached_property  # counted once for every topic's suggestions
    def terms(self) -> dict[str, Terms]:
        return {paper.id: paper_terms(paper) for paper in self.papers.values()}

    @cached_property  # only a send with readers who voted needs it
    def vectors(self) -> PaperVectors:
        return PaperVectors(self.papers.values())

    def _relative_scores(self, topic: Topic) -> dict[str, float]:
        """Every paper of the week outside `topic` scored for it, relative to the topic's median
        paper: 1.0 or more is as relevant as a typical paper the topic lists."""
        found = self._outside_scores.get(topic.slug)
        if found is None:
            papers = list(self.papers.values())
            scores = relevance_scores(topic, [self.terms[paper.id] for paper in papers])
            own = {ranked.paper.id for ranked in self.ranked[topic.slug]}
            inside = sorted((s for paper, s in zip(papers, scores, strict=True) if paper.id in own), reverse=True)
            bar = inside[len(inside) // 2] if inside else 0.0  # the topic's median paper
            found = {
                paper.id: score / bar
                for paper, score in zip(papers, scores, strict=True)
                if bar > 0 and paper.id not in own
            }
            self._outside_scores[topic.slug] = found
        return found

    def suggested(self, topic_set: tuple[str, ...]) -> tuple[Pick, ...]:
        """ "You might also like": at most SUGGESTED papers of the week that none of the topics in
        `topic_set` hold, each at least as relevant to one of them as that topic's median paper."""
        found = self._suggested.get(topic_set)
        if found is None:
            chosen = [t for t in self.topics if t.slug in topic_set]
            held = {ranked.paper.id for t in chosen for ranked in self.ranked[t.slug]}
            best: dict[str, tuple[float, Topic]] = {}
            for topic in chosen:
                for paper_id, score in self._relative_scores(topic).items():
                    if paper_id not in held and score >= 1.0 and score > best.get(paper_id, (0.0, topic))[0]:
                        best[paper_id] = (score, topic)
            ordered = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))[:SUGGESTED]
            found = tuple(
                Pick(self.papers[paper_id], because=f"close to {topic.title}") for paper_id, (_, topic) in ordered
            )
            self._suggested[topic_set] = found
        return found

    def _topic_set(self, topic_set: tuple[str, ...]) -> list[tuple[Topic, list[Pick]]]:
        """Each topic's ranked picks for a set: a paper once, under the first topic holding it."""
        found = self._sets.get(topic_set)
        if found is None:
            chosen = [t for t in self.topics if t.slug in topic_set]
            holders: dict[str, list[str]] = {}
            for topic in chosen:
                for ranked in self.ranked[topic.slug]:
                    holders.setdefault(ranked.paper.id, []).append(topic.title)
            found, shown = [], set()
            for topic in chosen:
                picks = []
                for ranked in self.ranked[topic.slug]:
                    if ranked.paper.id in shown:
                        continue
                    shown.add(ranked.paper.id)
                    also = tuple(title for title in holders[ranked.paper.id] if title != topic.title)
                    picks.append(Pick(ranked.paper, also, (), ranked.matched))
                found.append((topic, picks))
            self._sets[topic_set] = found
        return found

    def select(
        self, topic_set: tuple[str, ...], preferences: DigestPreferences, votes: ReaderVotes = NO_VOTES
    ) -> Selection:
        """What a subscriber to `topic_set` with `preferences` and `votes` gets this week."""
        excluded = self.matching(preferences.keywords_out)
        included = self.matching(preferences.keywords_in) if preferences.keywords_in else None
        followed: dict[str, tuple[str, ...]] = {}  # paper id -> followed names on it
        for name in preferences.authors:
            for paper in self.by_author.get(author_key(name), []):
                spelled = next(a for a in paper.authors if author_key(a) == author_key(name))
                followed[paper.id] = followed.get(paper.id, ()) + (spelled,)

        def wanted(paper: Paper) -> bool:
            if paper.id in excluded:
                return False
            return included is None or paper.id in included or paper.id in followed

        filtered = bool(preferences.keywords_in or preferences.keywords_out)

        full_count, titles_count = _bounds(preferences)
        blocks: list[TopicPicks] = []
        held: set[str] = set()
        for topic, picks in self._topic_set(topic_set):
            held.update(pick.paper.id for pick in picks)
            kept = [pick for pick in picks if wanted(pick.paper)] if filtered else picks
            if votes:
                kept = self._reordered(kept, votes)
            if followed:
                kept = [
                    replace(pick, followed=followed[pick.paper.id]) if pick.paper.id in followed else pick
                    for pick in kept
                ]
                kept.sort(key=lambda pick: not pick.followed)  # stable: ranked order otherwise
            full = kept[:full_count]
            titles = kept[full_count : full_count + titles_count]
            shown = len(full) + len(titles)
            blocks.append(
                TopicPicks(
                    topic,
                    tuple(full),
                    tuple(titles),
                    more=len(picks) - shown,
                    hidden=len(picks) - len(kept),
                    total=len(picks),
                    week_url=self.week_url(topic.slug),
                )
            )
        elsewhere = [
            Pick(paper, (), followed[paper.id])
            for paper_id in followed
            if paper_id not in held and wanted(paper := self.papers[paper_id])
        ]
        elsewhere.sort(key=lambda pick: (pick.paper.published, pick.paper.id), reverse=True)
        suggested: tuple[Pick, ...] = ()
        if preferences.suggestions:
            in_mail = held | {pick.paper.id for pick in elsewhere}
            suggested = tuple(
                pick for pick in self.suggested(topic_set) if pick.paper.id not in in_mail and wanted(pick.paper)
            )
        return Selection(tuple(elsewhere), tuple(blocks), suggested)

    def matching(self, keywords: tuple[str, ...]) -> frozenset[str]:
        """Ids of the week's papers that one of `keywords` matches (a word of the title or abstract,
        or a phrase in them), found once for every subscriber who chose the same keywords."""
        found = self._matching.get(keywords)
        if found is None:
            found = self._matching[keywords] = frozenset().union(*(self._matching_keyword(k) for k in keywords))
        return found

    def _matching_keyword(self, keyword: str) -> frozenset[str]:
        folded = fold(keyword)
        found = self._matching_one.get(folded)
        if found is None:
            if " " in folded:
                phrase = f" {folded} "
                found = frozenset(paper_id for paper_id, indexed in self.index.items() if phrase in indexed.text)
            else:
                found = frozenset(paper_id for paper_id, indexed in self.index.items() if folded in indexed.words)
            self._matching_one[folded] = found
        return found

    def _reordered(self, picks: list[Pick], votes: ReaderVotes) -> list[Pick]:
        """A topic's picks in the reader's own order, each moved up saying why."""
        by_id = {pick.paper.id: pick for pick in picks}
        order = reorder([pick.paper for pick in picks], votes.liked, votes.rejected, self.vectors)
        return [replace(by_id[entry.paper.id], because=entry.because) for entry in order]


def _bounds(preferences: DigestPreferences) -> tuple[int, int]:
    """(papers in full, title links) per topic for a subscriber's chosen length."""
    if preferences.length == LENGTH_FULL:
        return 10**6, 0
    if preferences.length == LENGTH_TITLES:
        return 0, 10**6
    return preferences.per_topic or FULL_PER_TOPIC, TITLES_PER_TOPIC
