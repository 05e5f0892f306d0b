"""Keywords as readers type them: programming languages with signs in their names are words."""

from __future__ import annotations

from dataclasses import replace

from service.digest.selection import WeekPapers
from service.model.preferences import DigestPreferences
from service.model.topics import Topic
from subscribers.preferences import parse_keywords
from tests.support.topic_data import fixture_papers

TOPIC = Topic("testing", "Software Testing", "", "all:testing")


def test_it_accepts_c_plus_plus_and_c_sharp_as_keywords():
    assert parse_keywords("C++, C#; Rust") == ("C++", "C#", "Rust")


def test_c_plus_plus_matches_papers_on_c_plus_plus_and_not_the_letter_c():
    base = fixture_papers()[:3]
    cpp = replace(base[0], abstract="A fuzzer for C++ template code.")
    c_sharp = replace(base[1], abstract="Unit tests for C# services.")
    plain_c = replace(base[2], abstract="Symbolic execution of C programs, unlike case c.")
    week = WeekPapers([TOPIC], {"testing": [cpp, c_sharp, plain_c]}, [], lambda slug: f"/topics/{slug}/2026-W06/")

    def picked(*keywords):
        block = week.select(("testing",), DigestPreferences(keywords_in=keywords)).topics[0]
        return {pick.paper.id for pick in block.full + block.titles}

    assert picked("c++") == {cpp.id}
    assert picked("C#") == {c_sharp.id}
    assert picked("C") == {plain_c.id}
