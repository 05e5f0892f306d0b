"""One subscriber's digest email, HTML and text, never over Gmail's clipping size.

MJML runs once per shape of a letter (how many topics, which retired) and makes a minified frame
with slots: a topic set's subject and titles are filled into it, then each subscriber's links and
papers, from Jinja pieces rendered once per paper and cut at their vote links. A send where every
subscriber's mail differs costs one pass of string joins per letter, not MJML. A letter whose HTML
would pass HTML_LIMIT is shortened step by step (shorter abstracts, no abstracts, titles only,
counts only) instead of being clipped.
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
# Text that differs between topic sets of one shape (see LetterWriter._shape).
SUBJECT_SLOT = "PBXSLOTSUBJECTX"
PREVIEW_SLOT = "PBXSLOTPREVIEWX"
NAMED_SLOT = re.compile(r"PBXSLOT(?:SUBJECT|PREVIEW|TITLE[0-9]+)X")
UNQUOTED_SLOT = re.compile(r"=(PBXSLOT[A-Z0-9]+X)(?=[\s>])")
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
    html_bytes: int  # the length of `html` in UTF-8, as measured against HTML_LIMIT

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
    html_bytes: int  # of the literal text of `html`
    link_counts: dict[str, int]  # how often each link's slot stands in `html`


@dataclass(frozen=True, slots=True)
class _Piece:
    """A piece of a letter rendered once (a paper, a heading), cut at its vote links, each of
    which points under the reader's preferences link, so a letter joins the cuts around that link."""

    cut: tuple[str, ...]
    size: int  # bytes in UTF-8, with the slots in place of the vote links

    @classmethod
    def of(cls, rendered: str) -> _Piece:
        return cls(tuple(rendered.split(PREFERENCES_SLOT)), len(rendered.encode("utf-8")))

    @property
    def votes(self) -> int:
        return len(self.cut) - 1


def subject_for(week: str, titles: list[str]) -> str:
    if not titles:
        return f"paperboy {week}: papers by authors you follow"
    named = ", ".join(titles[:SUBJECT_TOPICS])
    if len(titles) > SUBJECT_TOPICS:
        named += f" and {len(titles) - SUBJECT_TOPICS} more"
    return f"paperboy {week}: {named}"


def _topic_slot(number: int) -> str:
    return f"PBXSLOTTOPIC{number}X"


def _title_slot(number: int) -> str:
    return f"PBXSLOTTITLE{number}X"


def _split(document: str) -> list[str]:
    """The document cut at every slot: literal, slot, literal, ..., literal."""
    return re.split(r"(PBXSLOT[A-Z0-9]+X)", document)


def _assemble(frame: list[str], links: dict[str, Link], pieces: dict[str, list[_Piece]]) -> list[str]:
    """The frame's literal text with each slot filled, in one pass: a link's slot with the link,
    any other with its pieces, their vote links pointing under the preferences link."""
    vote_link = links[PREFERENCES_SLOT]
    parts: list[str] = []
    for index, part in enumerate(frame):
        if not index % 2:
            parts.append(part)
        elif part in links:
            parts.append(links[part])
        else:
            for piece in pieces[part]:
                cut = piece.cut
                parts.append(cut[0])
                for rest in cut[1:]:
                    parts += (vote_link, rest)
    return parts


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
        self.shapes: dict[tuple[int, tuple[Topic, ...]], str] = {}
        self.pieces: dict[tuple, _Piece] = {}
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
        urls = dict(zip(SLOTS, links or SLOTS, strict=True))
        text_links = {slot: Link(url) for slot, url in urls.items()}
        html_links = {slot: Link(escape(url)) for slot, url in urls.items()}
        link_bytes = {slot: len(link.encode("utf-8")) for slot, link in html_links.items()}
        frame_bytes = frame.html_bytes + sum(count * link_bytes[slot] for slot, count in frame.link_counts.items())
        vote_growth = link_bytes[PREFERENCES_SLOT] - len(PREFERENCES_SLOT)
        for level in range(LEVELS):
            shown = selection if level < 3 else selection.shortened() if level == 3 else selection.counted_only()
            pieces = self._pieces("html", shown, level)
            html_bytes, vote_links = frame_bytes, 0
            for block in pieces.values():
                for piece in block:
                    html_bytes += piece.size
                    vote_links += piece.votes
            html_bytes += vote_links * vote_growth
            # Without links (a preview) every link is measured as long as a real one would be.
            room = 0 if links else LINK_ALLOWANCE + vote_links * VOTE_ALLOWANCE
            if html_bytes + room <= HTML_LIMIT:
                html = _assemble(frame.html, html_links, pieces)
                text = _assemble(frame.text, text_links, self._pieces("txt", shown, level))
                return Letter(frame.subject, html, text, level, shown, html_bytes)
        raise DigestError(f"digest: {self.digest.week} does not fit in {HTML_LIMIT} bytes of HTML even as counts")

    def frame(self, topic_set: tuple[str, ...]) -> _Frame:
        """The frame of a topic set, made the first time the set comes up from the MJML of its shape."""
        frame = self.frames.get(topic_set)
        if frame is not None:
            self.frames.move_to_end(topic_set)
            return frame
        chosen = tuple(t for t in self.topics if t.slug in topic_set)
        titles = [t.title for t in chosen]
        retired = tuple(t for t in self.retired if t.slug in topic_set)
        named = {
            SUBJECT_SLOT: subject_for(self.digest.week, titles),
            PREVIEW_SLOT: "New papers this week in " + (", ".join(titles) or "the topics you follow"),
            **{_title_slot(n): title for n, title in enumerate(titles)},
        }
        # The named slots hold text of the page (the title, the preview, headings): escaped as Jinja would.
        html = NAMED_SLOT.sub(lambda slot: str(escape(named[slot[0]])), self._shape(len(chosen), retired))
        context = self._context(named[SUBJECT_SLOT], named[PREVIEW_SLOT], titles, retired)
        text = mail_templates.get_template("email/digest.txt.j2").render(context)
        for slot in (*SLOTS, INTRO_SLOT, OUTRO_SLOT):
            if slot not in text:
                raise DigestError(f"digest: the email templates lost the placeholder {slot}")
        cut = _split(html)
        literal = cut[::2]
        links = {slot: cut[1::2].count(slot) for slot in SLOTS}
        frame = _Frame(named[SUBJECT_SLOT], cut, _split(text), chosen, len("".join(literal).encode("utf-8")), links)
        self.frames[topic_set] = frame
        if len(self.frames) > FRAMES_KEPT:
            self.frames.popitem(last=False)
        return frame

    def _shape(self, topics: int, retired: tuple[Topic, ...]) -> str:
        """The minified MJML frame of `topics` topics with slots for the subject, the preview and the
        topics' titles: MJML, some 10 ms a frame, runs once for all topic sets of that size."""
        key = (topics, retired)
        html = self.shapes.get(key)
        if html is None:
            titles = [_title_slot(n) for n in range(topics)]
            context = self._context(SUBJECT_SLOT, PREVIEW_SLOT, titles, retired)
            result = mjml_to_html(mail_templates.get_template("email/digest.mjml.j2").render(context))
            if result.errors:
                raise DigestError(f"digest: MJML reported {len(result.errors)} error(s): {result.errors[0]}")
            # A slot alone in an attribute (a link's href; the subject in the body's aria-label)
            # loses its quotes to the minifier; the text that replaces it needs them.
            html = UNQUOTED_SLOT.sub(r'="\1"', minify_html.minify(result.html, **MINIFY))
            for slot in (*SLOTS, INTRO_SLOT, OUTRO_SLOT, SUBJECT_SLOT, PREVIEW_SLOT, *titles):
                if slot not in html:
                    raise DigestError(f"digest: the email templates lost the placeholder {slot}")
            self.shapes[key] = html
        return html

    def _context(self, subject: str, preview: str, titles: list[str], retired: tuple[Topic, ...]) -> dict:
        return {
            "subject": subject,
            "week": self.digest.week,
            "browser_url": self.browser_url,
            "preview": preview,
            "unsubscribe_url": UNSUBSCRIBE_SLOT,
            "preferences_url": PREFERENCES_SLOT,
            "intro_slot": INTRO_SLOT,
            "outro_slot": OUTRO_SLOT,
            "topic_slots": [(title, _topic_slot(n)) for n, title in enumerate(titles)],
            "retired_topics": retired,
            "base_url": self.config.base_url,
        }

    def _pieces(self, kind: str, selection: Selection, level: int) -> dict[str, list[_Piece]]:
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

    def _paper(self, kind: str, pick, limit: int) -> _Piece:
        key = (kind, "full", pick.paper.id, pick.also_in, pick.followed, pick.matched, pick.because, limit)
        piece = self.pieces.get(key)
        if piece is None:
            abstract = shorten(pick.paper.abstract, limit) if limit else ""
            piece = self.pieces[key] = _Piece.of(self._render(kind, "full", pick, abstract))
        return piece

    def _title(self, kind: str, pick) -> _Piece:
        key = (kind, "title_line", pick.paper.id, pick.followed)
        piece = self.pieces.get(key)
        if piece is None:
            piece = self.pieces[key] = _Piece.of(self._render(kind, "title_line", pick))
        return piece

    def _piece(self, kind: str, macro: str, *args) -> _Piece:
        key = (kind, macro, *map(_key, args))
        piece = self.pieces.get(key)
        if piece is None:
            piece = self.pieces[key] = _Piece.of(self._render(kind, macro, *args))
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
