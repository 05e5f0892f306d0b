"""A subscriber's digest preferences as the rest of paperboy reads them: how long the digest is,
keywords to include or exclude, authors to follow (parsed and checked in subscribers/preferences.py)."""

from __future__ import annotations

from dataclasses import dataclass

LENGTH_FULL = "full"  # every paper with its abstract (shortened only to stay under the size limit)
LENGTH_TITLES = "titles"  # every paper as a one-line title link
LENGTH_DEFAULT = ""  # the digest's own bound per topic
MAX_PER_TOPIC = 50


@dataclass(frozen=True)
class DigestPreferences:
    length: str = LENGTH_DEFAULT  # "", "full", "titles" or a number of papers per topic as text
    keywords_in: tuple[str, ...] = ()
    keywords_out: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    suggestions: bool = True  # "You might also like": a few papers from outside the subscriber's topics

    @property
    def per_topic(self) -> int | None:
        """Papers per topic shown in full when the subscriber chose a number, else None."""
        return int(self.length) if self.length.isdigit() else None

    @property
    def is_default(self) -> bool:
        return self == DigestPreferences()

    def describe(self) -> str:
        """One line for the audit log."""
        return (
            f"length {self.length or 'default'}; include {'; '.join(self.keywords_in) or '-'}; "
            f"exclude {'; '.join(self.keywords_out) or '-'}; authors {'; '.join(self.authors) or '-'}"
            + ("" if self.suggestions else "; no suggestions")
        )


DEFAULT = DigestPreferences()
