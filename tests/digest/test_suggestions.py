""" "You might also like": at most three papers of the week from outside the reader's topics,
marked with why, and gone when the reader turns them off."""

from __future__ import annotations

import lxml.html

from service.digest.digest import build_digest
from service.digest.letter import SUGGESTED_HEADING, letter_writer
from service.digest.selection import SUGGESTED
from service.model.preferences import DigestPreferences
from tests.conftest import NOW
from tests.support.digest_data import load_week

WEEK_BEFORE = "2026-W04"  # 80 testing papers in the topic; 20 more first seen then join it a week later


def test_it_suggests_a_few_papers_from_outside_the_readers_topics(runtime):
    with runtime.engine.begin() as conn:
        load_week(conn)
        digest = build_digest(conn, runtime.topics, WEEK_BEFORE, NOW)
        writer = letter_writer(conn, runtime.config, digest, runtime.topics)
    in_topic = {paper.id for paper in digest.papers["testing"]}

    letter = writer.letter(("testing",))
    suggested = letter.selection.suggested
    assert 1 <= len(suggested) <= SUGGESTED
    assert all(pick.paper.id not in in_topic and pick.because == "close to Software Testing" for pick in suggested)
    document = lxml.html.fromstring(letter.html)
    text = document.text_content()
    assert SUGGESTED_HEADING in text and text.index(SUGGESTED_HEADING) > text.index("Software Testing")
    assert all(pick.paper.title in text for pick in suggested)
    assert SUGGESTED_HEADING in letter.text and "close to Software Testing" in letter.text

    off = writer.letter(("testing",), DigestPreferences(suggestions=False))
    assert off.selection.suggested == () and SUGGESTED_HEADING not in off.html and SUGGESTED_HEADING not in off.text
    # Suggestions never make a mail on their own: a reader whose topics have nothing gets none.
    assert writer.letter(("vla",), DigestPreferences(keywords_in=("nonexistentword",))) is None
