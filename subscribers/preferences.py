"""A subscriber's digest preferences: how long the digest is, keywords to include or exclude,
authors to follow; read from forms and CSV cells, checked, and written back as text.

Keywords and authors are plain text matched without regard to case: a keyword matches whole
words of a paper's title or abstract, an author matches a name on the paper's author list.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

from service.errors import PaperboyError
from service.model.preferences import (
    LENGTH_DEFAULT,
    LENGTH_FULL,
    LENGTH_TITLES,
    MAX_PER_TOPIC,
    DigestPreferences,
)

MAX_TERMS = 50  # keywords in, keywords out and authors, each
MAX_TERM_LENGTH = 100
# Characters that only mean something in a pattern; nobody's keyword or name needs them
# ("+" is not one of them: C++).
PATTERN_CHARACTERS = set("\\^$*?{}[]|()<>/")
# A word as matching sees it: letters and digits, keeping the "++" of C++ and the "#" of C#.
MATCH_WORD = re.compile(r"\w+(?:\+\+|#)?")
KEYWORD_SEPARATORS = re.compile(r"[;,\n]")
AUTHOR_SEPARATORS = re.compile(r"[;\n]")  # "LeCun, Yann" keeps its comma


class PreferenceError(PaperboyError):
    """A preference value that cannot be used; the message says which and why in one line."""


def parse_length(value: str) -> str:
    """'', 'full', 'titles' or a number of papers per topic from 1 to MAX_PER_TOPIC."""
    value = value.strip().lower()
    if value in (LENGTH_DEFAULT, "default", LENGTH_FULL, LENGTH_TITLES):
        return "" if value == "default" else value
    if value.isdigit() and 1 <= int(value) <= MAX_PER_TOPIC:
        return str(int(value))
    raise PreferenceError(
        f"digest length {value[:40]!r}: use full, titles, or a number of papers per topic from 1 to {MAX_PER_TOPIC}"
    )


def _terms(value: str, what: str, separators: re.Pattern, separator_names: str) -> tuple[str, ...]:
    value = value.strip().strip(";").strip()
    if not value:
        return ()
    terms = [" ".join(term.split()) for term in separators.split(value)]
    if any(not term for term in terms):
        raise PreferenceError(f"{what}: an empty entry (two separators in a row); separate {what} by {separator_names}")
    if len(terms) > MAX_TERMS:
        raise PreferenceError(f"{what}: {len(terms)} entries; at most {MAX_TERMS} are allowed")
    for term in terms:
        if len(term) > MAX_TERM_LENGTH:
            raise PreferenceError(f"{what}: {term[:30]!r}... is longer than {MAX_TERM_LENGTH} characters")
        odd = sorted(PATTERN_CHARACTERS.intersection(term))
        if odd:
            raise PreferenceError(
                f"{what}: {term[:40]!r} looks like a pattern ({' '.join(odd)}); "
                "use plain words, matched without regard to case"
            )
    unique = dict.fromkeys(terms, None)  # keeps the order, drops repeats
    return tuple(unique)


def parse_keywords(value: str, what: str = "keywords") -> tuple[str, ...]:
    """Keywords separated by commas, semicolons or new lines."""
    return _terms(value, what, KEYWORD_SEPARATORS, "commas, semicolons or new lines")


def parse_authors(value: str) -> tuple[str, ...]:
    """Author names separated by semicolons or new lines."""
    return _terms(value, "authors", AUTHOR_SEPARATORS, "semicolons or new lines")


def parse_preferences(length: str, keywords_in: str, keywords_out: str, authors: str) -> DigestPreferences:
    """Preferences from four text fields (form or CSV); PreferenceError names the bad one."""
    return DigestPreferences(
        length=parse_length(length),
        keywords_in=parse_keywords(keywords_in, "keywords to include"),
        keywords_out=parse_keywords(keywords_out, "keywords to exclude"),
        authors=parse_authors(authors),
    )


@dataclass(frozen=True)
class TypedPreferences:
    """What a form held, shown again next to an error so nothing typed is lost."""

    length: str
    per_topic: str
    keywords_in: str
    keywords_out: str
    authors: str
    suggestions: bool = True


def parse_form(form) -> tuple[DigestPreferences | None, TypedPreferences, str | None]:
    """(preferences, what was typed, error) from the preferences form; preferences None on an error."""
    typed = TypedPreferences(
        *(
            form.get(name, "")[:20_000]
            for name in ("digest_length", "per_topic", "keywords_include", "keywords_exclude", "authors")
        )
    )
    # A form that shows the box says so; one that does not (an older page) leaves suggestions on.
    if "suggestions_shown" in form:
        typed = replace(typed, suggestions=form.get("suggestions") == "on")
    length = typed.per_topic if typed.length == "number" else typed.length
    if typed.length == "number" and not typed.per_topic.strip():
        return None, typed, f"Papers per topic: give a number from 1 to {MAX_PER_TOPIC}."
    try:
        parsed = parse_preferences(length, typed.keywords_in, typed.keywords_out, typed.authors)
        return replace(parsed, suggestions=typed.suggestions), typed, None
    except PreferenceError as error:
        message = str(error)
        return None, typed, message[:1].upper() + message[1:] + "."


def joined(terms: tuple[str, ...]) -> str:
    """Terms as one CSV cell or form field, in the form parse_* reads back."""
    return "; ".join(terms)


def fold(text: str) -> str:
    """Text for matching: accents removed, case folded, runs of anything but letters and digits
    as one space ("C++" and "C#" keep their signs, so neither matches the letter C)."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(MATCH_WORD.findall(plain))


def author_key(name: str) -> str:
    """The form of a name that following compares: "LeCun, Yann" and "yann lecun" are one person."""
    if "," in name:
        last, _, first = name.partition(",")
        name = f"{first} {last}"
    return fold(name)
