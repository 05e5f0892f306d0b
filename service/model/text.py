"""Text from arXiv made fit for output: control characters out, Markdown made literal."""

from __future__ import annotations

import re

# Characters XML 1.0 forbids (and that no reader wants on a page): C0 controls except tab,
# newline and carriage return, lone surrogates, and U+FFFE/U+FFFF.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Markdown punctuation that can start or end inline markup anywhere in a line.
MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]|~<>!])")
# What makes a line start a block: heading, quote, list item, numbered item, rule.
MARKDOWN_BLOCK_START = re.compile(r"^(\s*)([#>+\-=]|\d+[.)])")


def counted(number: int, singular: str, plural: str) -> str:
    """A count with its noun in the right number: "1 new delivery", "2 new deliveries"."""
    return f"{number} {singular if number == 1 else plural}"


def printable(text: str | None) -> str:
    """`text` without the characters XML cannot carry."""
    return NOT_XML.sub("", text or "")


def one_line(text: str | None) -> str:
    """`text` printable and on one line, runs of whitespace made one space."""
    return " ".join(printable(text).split())


def markdown_text(text: str | None) -> str:
    """`text` as literal Markdown on one line: markup and HTML characters escaped."""
    line = one_line(text).replace("&", "&amp;")
    line = MARKDOWN_INLINE.sub(lambda m: _escape_inline(m.group(1)), line)
    return MARKDOWN_BLOCK_START.sub(_escape_block_start, line, count=1)


def _escape_block_start(match: re.Match[str]) -> str:
    marker: str = match.group(2)
    # "1." is escaped as "1\." (a backslash before a digit would be printed).
    start: str = match.group(1)
    return start + marker[:-1] + "\\" + marker[-1]


def _escape_inline(char: str) -> str:
    # HTML-significant characters as entities (a backslash does not stop raw HTML).
    return {"<": "&lt;", ">": "&gt;"}.get(char, "\\" + char)


def markdown_url(url: str) -> str:
    """A URL fit for a Markdown link target: characters that would end it percent-encoded."""
    for char, code in ((" ", "%20"), ("(", "%28"), (")", "%29"), ("<", "%3C"), (">", "%3E"), ('"', "%22")):
        url = url.replace(char, code)
    return one_line(url)


def is_web_url(url: str | None) -> bool:
    """Only http(s) URLs become links; anything else (javascript:, data:) stays out."""
    return url is not None and url.lower().startswith(("http://", "https://"))
