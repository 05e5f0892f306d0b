"""One subscriber's digest email, HTML and text, never over Gmail's clipping size.

MJML runs once per set of topics and makes a minified frame with slots; each subscriber's papers
are then filled in from Jinja pieces rendered once per paper, so a send where every subscriber's
mail differs costs string joins, not MJML. A letter whose HTML would pass HTML_LIMIT is shortened
step by step (shorter abstracts, no abstracts, titles only, counts only) instead of being clipped.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import minify_html
from markupsafe import escape
from mjml import mjml_to_html

from service.arxiv.exemplars import exemplar_papers
from service.config import Config
from service.digest.selection import NO_VOTES, ReaderVotes, Selection, WeekPapers
from service.errors import PaperboyError
from service.model.paper import ABSTRACT_SHOWN, shorten
from service.model.preferences import DEFAULT, DigestPreferences
from service.model.topics import Topic
from service.model.weeks import week_bounds
from service.store import topics as topic_store
from service.store.papers import papers_first_seen
from service.templating import mail_templates

if TYPE_CHECKING:
    from service.store import Connection

# Gmail clips a message whose HTML passes 102 KB ("[Message clipped]"), hiding the rest and the
# unsubscribe link; stay below it in bytes of the HTML as sent.
HTML_LIMIT = 102_000
# Stand-ins for the per-subscriber links, replaced in each message. Letters only, so that no
# escaping or quoted-printable encoding changes them.
UNSUBSCRIBE_SLOT = "PBXSLOTUNSUBSCRIBEX"
PREFERENCES_SLOT = "PBXSLOTPREFERENCESX"
SLOTS = (UNSUBSCRIBE_SLOT, PREFERENCES_SLOT)
INTRO_SLOT = "PBXSLOTINTROX"
OUTRO_SLOT = "PBXSLOTOUTROX"
# A paper's "More like this" and "Fewer like this" links live under the reader's preferences
# link (/preferences/<token>/more/<id>), so they need no slot of their own in a paper's piece.
mail_templates.globals["vote_base"] = PREFERENCES_SLOT
# Room the real links take beyond their slots when a letter is made without them (previews).
LINK_ALLOWANCE = 4 * 250
VOTE_ALLOWANCE = 250
SUBJECT_TOPICS = 3
# Abstract lengths by level; from level 3 full papers become title links, at 4 only counts stay.
ABSTRACTS = (ABSTRACT_SHOWN, 200, 0)
LEVELS = 5
FRAMES_KEPT = 64
MINIFY = dict(keep_closing_tags=True, keep_html_and_head_opening_tags=True, keep_comments=True, minify_css=True)
FOLLOWED_HEADING = "From authors you follow"
SUGGESTED_HEADING = "You might also like"
MORE_HEADING = "More papers"
TITLES_HEADING = "Papers this week"


class DigestError(PaperboyError):
    """A digest cannot be built or rendered; the message says why in one line."""


class Link(str):
    """A per-subscriber link filled into a letter: unlike the pieces around it, seen only once."""


@dataclass(frozen=True)
class Letter:
    subject: str
    html_parts: list[str]  # pieces kept across letters, and Links
    text_parts: list[str]
    level: int  # 0: as selected; higher: shortened to stay under HTML_LIMIT
    selection: Selection

    @property
    def html(self) -> str:
        return "".join(self.html_parts)

    @property
    def text(self) -> str:
        return "".join(self.text_parts)


@dataclass(frozen=True)
class _Frame:
    subject: str
    html: list[str]  # literal text and slot names, alternating
    text: list[str]
    topics: tuple[Topic, ...]


def subject_for(week: str, titles: list[str]) -> str:
    if not titles:
        return f"paperboy {week}: papers by authors you follow"
    named = ", ".join(titles[:SUBJECT_TOPICS])
    if len(titles) > SUBJECT_TOPICS:
        named += f" and {len(titles) - SUBJECT_TOPICS} more"
    return f"paperboy {week}: {named}"


def _topic_slot(number: int) -> str:
    return f"PBXSLOTTOPIC{number}X"


def _split(document: str) -> list[str]:
    """The document cut at every slot: literal, slot, literal, ..., literal."""
    return re.split(r"(PBXSLOT[A-Z0-9]+X)", document)


def _fill(parts: list[str], values: dict[str, list[str]]) -> list[str]:
    filled = []
    for index, part in enumerate(parts):
        if index % 2:
            filled += values[part]
        else:
            filled.append(part)
    return filled


class LetterWriter:
    """Letters of one digest for any topic set and preferences; frames and pieces are kept."""

    def __init__(self, config: Config, digest, topics: list[Topic], week: WeekPapers, retired: Sequence[Topic] = ()):
        """`digest` is a service.digest.Digest (which imports this module); `retired` are topics
        retired since the digest before, which their readers are told about."""
        self.config, self.digest, self.topics, self.week = config, digest, topics, week
        self.retired = list(retired)
        self.browser_url = f"{config.base_url}/digests/{digest.id}"
        self.week_start = week_bounds(digest.week)[0]
        self.frames: OrderedDict[tuple[str, ...], _Frame] = OrderedDict()
        self.pieces: dict[tuple, str] = {}
        self.cut_pieces: dict[str, list[str]] = {}
        self.macros = {
            kind: mail_templates.get_template(f"email/digest_papers.{kind}.j2").module for kind in ("html", "txt")
        }

    def letter(
        self,
        topic_set: tuple[str, ...],
        preferences: DigestPreferences = DEFAULT,
        links: tuple[str, str] | None = None,
        votes: ReaderVotes = NO_VOTES,
    ) -> Letter | None:
        """The email for a subscriber, or None when their filters leave nothing to send.

        `links` are the (unsubscribe, preferences) URLs; without them the slots stay in."""
        selection = self.week.select(tuple(topic_set), preferences, votes)
        if selection.empty:
            return None
        frame = self.frame(tuple(topic_set))
        values: dict[str, list[str]] = {UNSUBSCRIBE_SLOT: [UNSUBSCRIBE_SLOT], PREFERENCES_SLOT: [PREFERENCES_SLOT]}
        allowance = LINK_ALLOWANCE
        if links is not None:
            values = {UNSUBSCRIBE_SLOT: [Link(links[0])], PREFERENCES_SLOT: [Link(links[1])]}
            allowance = 0
        html_values: dict[str, list[str]] = {slot: [Link(escape(url)) for url in urls] for slot, urls in values.items()}
        for level in range(LEVELS):
            shown = selection if level < 3 else selection.shortened() if level == 3 else selection.counted_only()
            html_values.update(self._pieces("html", shown, level))
            html = self._voting(_fill(frame.html, html_values), html_values[PREFERENCES_SLOT][0])
            # Without links (a preview) every vote link is as long as a real one would be.
            votes_allowance = 0 if links else sum(part.count(PREFERENCES_SLOT) for part in html) * VOTE_ALLOWANCE
            if len("".join(html).encode("utf-8")) + allowance + votes_allowance <= HTML_LIMIT:
                text = _fill(frame.text, {**values, **self._pieces("txt", shown, level)})
                text = self._voting(text, values[PREFERENCES_SLOT][0])
                return Letter(frame.subject, html, text, level, shown)
        raise DigestError(f"digest: {self.digest.week} does not fit in {HTML_LIMIT} bytes of HTML even as counts")

    def _voting(self, parts: list[str], link: str) -> list[str]:
        """`parts` with each piece's vote links pointing under the reader's preferences `link`.

        A piece is cut at its slots once and kept, so every letter shares the cut pieces; a letter
        made with the slots for links (a shared letter, a preview) gets the slot as a part of its
        own, which the encoder leaves open for each message to fill."""
        filled: list[str] = []
        for part in parts:
            if isinstance(part, Link) or PREFERENCES_SLOT not in part:
                filled.append(part)
                continue
            cut = self.cut_pieces.get(part)
            if cut is None:
                cut = self.cut_pieces[part] = part.split(PREFERENCES_SLOT)
            filled.append(cut[0])
            for rest in cut[1:]:
                filled += (link, rest)
        return filled

    def frame(self, topic_set: tuple[str, ...]) -> _Frame:
        """The MJML frame of a topic set, rendered and minified the first time the set comes up."""
        frame = self.frames.get(topic_set)
        if frame is not None:
            self.frames.move_to_end(topic_set)
            return frame
        chosen = tuple(t for t in self.topics if t.slug in topic_set)
        titles = [t.title for t in chosen]
        subject = subject_for(self.digest.week, titles)
        context = {
            "subject": subject,
            "week": self.digest.week,
            "browser_url": self.browser_url,
            "preview": "New papers this week in " + (", ".join(titles) or "the topics you follow"),
            "unsubscribe_url": UNSUBSCRIBE_SLOT,
            "preferences_url": PREFERENCES_SLOT,
            "intro_slot": INTRO_SLOT,
            "outro_slot": OUTRO_SLOT,
            "topic_slots": [(topic, _topic_slot(n)) for n, topic in enumerate(chosen)],
            "retired_topics": [t for t in self.retired if t.slug in topic_set],
            "base_url": self.config.base_url,
        }
        result = mjml_to_html(mail_templates.get_template("email/digest.mjml.j2").render(context))
        if result.errors:
            raise DigestError(f"digest: MJML reported {len(result.errors)} error(s): {result.errors[0]}")
        html = minify_html.minify(result.html, **MINIFY)
        for slot in SLOTS:
            html = html.replace(f"href={slot}>", f'href="{slot}">')
        text = mail_templates.get_template("email/digest.txt.j2").render(context)
        for slot in (*SLOTS, INTRO_SLOT, OUTRO_SLOT):
            if slot not in html or slot not in text:
                raise DigestError(f"digest: the email templates lost the placeholder {slot}")
        frame = _Frame(subject, _split(html), _split(text), chosen)
        self.frames[topic_set] = frame
        if len(self.frames) > FRAMES_KEPT:
            self.frames.popitem(last=False)
        return frame

    def _pieces(self, kind: str, selection: Selection, level: int) -> dict[str, list[str]]:
        """The intro and each topic's block of one letter, from pieces rendered once."""
        abstract = ABSTRACTS[min(level, len(ABSTRACTS) - 1)]
        followed_full = level < LEVELS - 1
        intro = [self._piece(kind, "intro", selection.count, self.week_start, len(selection.followed))]
        if selection.followed:
            intro.append(self._piece(kind, "heading", FOLLOWED_HEADING))
            intro += [
                self._paper(kind, pick, abstract) if followed_full else self._title(kind, pick)
                for pick in selection.followed
            ]
        outro = []
        if selection.suggested:
            outro.append(self._piece(kind, "heading", SUGGESTED_HEADING))
            outro += [
                self._paper(kind, pick, abstract) if followed_full else self._title(kind, pick)
                for pick in selection.suggested
            ]
        values = {INTRO_SLOT: intro, OUTRO_SLOT: outro}
        for number, block in enumerate(selection.topics):
            parts = [self._paper(kind, pick, abstract) for pick in block.followed_full]
            for name, picks in block.sections:
                if picks:
                    parts.append(self._piece(kind, "heading", name))
                    parts += [self._paper(kind, pick, abstract) for pick in picks]
            if block.titles:
                parts.append(self._piece(kind, "heading", MORE_HEADING if block.full else TITLES_HEADING))
                parts += [self._title(kind, pick) for pick in block.titles]
            parts.append(self._piece(kind, "more", block))
            values[_topic_slot(number)] = parts
        return values

    def _paper(self, kind: str, pick, limit: int) -> str:
        key = (kind, "full", pick.paper.id, pick.also_in, pick.followed, pick.matched, pick.because, limit)
        piece = self.pieces.get(key)
        if piece is None:
            abstract = shorten(pick.paper.abstract, limit) if limit else ""
            piece = self._render(kind, "full", pick, abstract)
            self.pieces[key] = piece
        return piece

    def _title(self, kind: str, pick) -> str:
        key = (kind, "title_line", pick.paper.id, pick.followed)
        piece = self.pieces.get(key)
        if piece is None:
            piece = self.pieces[key] = self._render(kind, "title_line", pick)
        return piece

    def _piece(self, kind: str, macro: str, *args) -> str:
        key = (kind, macro, *(_key(arg) for arg in args))
        piece = self.pieces.get(key)
        if piece is None:
            piece = self.pieces[key] = self._render(kind, macro, *args)
        return piece

    def _render(self, kind: str, macro: str, *args) -> str:
        rendered = str(getattr(self.macros[kind], macro)(*args))
        return minify_html.minify(rendered, **MINIFY) if kind == "html" else rendered


def _key(arg):
    """A hashable stand-in for a macro argument (topic blocks hold mutable papers)."""
    if hasattr(arg, "topic"):
        return (arg.topic.slug, arg.more, arg.hidden, arg.total, bool(arg.full or arg.titles))
    return arg


def letter_writer(conn: Connection, config: Config, digest, topics: list[Topic]) -> LetterWriter:
    """A writer for `digest`, knowing every paper the store first held that week (for followed authors)."""
    start, end = week_bounds(digest.week)
    week = WeekPapers(
        topics,
        digest.papers,
        papers_first_seen(conn, start, end),
        lambda slug: f"{config.base_url}/topics/{slug}/{digest.week}/",
        {topic.slug: exemplar_papers(conn, topic) for topic in topics},
    )
    return LetterWriter(config, digest, topics, week, retired_since_last_digest(conn, digest.created))


# Digests go out weekly: a topic retired in the week before a digest was made is news in it.
RETIRED_NEWS = timedelta(days=7)


def retired_since_last_digest(conn: Connection, created: datetime) -> list[Topic]:
    """Topics retired in the week before `created`, the time the digest was made."""
    return [
        t for t in topic_store.load(conn) if t.retired is not None and created - RETIRED_NEWS < t.retired <= created
    ]
