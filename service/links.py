"""Code repositories and project pages mentioned in a paper's abstract or arXiv comment."""

from __future__ import annotations

import re

CODE_HOSTS = ("github.com", "gitlab.com", "huggingface.co", "codeberg.org", "bitbucket.org")

# A URL with or without a scheme. arXiv wraps long comments, so "https://foo.github.\n io/bar"
# occurs; callers join such breaks first (see _unwrap).
URL = re.compile(
    r"(?:https?://)?(?:www\.)?"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}"
    r"(?::\d+)?(?:/[^\s<>\"'(){}\[\]]*)?",
)
PROJECT_CUE = re.compile(
    r"(project|website|homepage|home page|webpage|web page|demo|videos?)\b[^.;:]{0,40}?[:\s]\s*$",
    re.IGNORECASE,
)
TRAILING = ".,;:!?)]}'\"`"


def find_links(*texts: str | None) -> tuple[list[str], list[str]]:
    """(code URLs, project page URLs) found in `texts`, in order of appearance, no duplicates."""
    code: list[str] = []
    project: list[str] = []
    for text in texts:
        if not text:
            continue
        text = _unwrap(text)
        for match in URL.finditer(text):
            raw = match.group(0)
            if match.start() > 0 and text[match.start() - 1] in "@/.":
                continue  # part of an email address or a longer token
            url = _normalize(raw)
            if url is None:
                continue
            host = url.split("/")[2].lower()
            bare_host = host.removeprefix("www.")
            if bare_host in CODE_HOSTS:
                if _is_repository(url) and url not in code:
                    code.append(url)
            elif bare_host.endswith(".github.io") or bare_host.endswith(".gitlab.io"):
                if url not in project:
                    project.append(url)
            elif (raw.startswith("http") or "/" in raw) and PROJECT_CUE.search(text[: match.start()]):
                if url not in project:
                    project.append(url)
    return code, project


def _unwrap(text: str) -> str:
    # A URL broken at a line end continues on the next line after indentation: join the
    # pieces when the line ends inside a URL-looking token (after "/", "." or "-").
    return re.sub(r"([/.\-_])\s*\n\s*(?=[A-Za-z0-9])", r"\1", text)


def _normalize(raw: str) -> str | None:
    url = raw.rstrip(TRAILING)
    # Keep a closing parenthesis that belongs to the URL ("...wiki/Foo_(bar)").
    if raw[len(url):].startswith(")") and url.count("(") > url.count(")"):
        url += ")"
    if not url.lower().startswith("http"):
        if "." not in url.split("/")[0]:
            return None
        url = "https://" + url
    if len(url.split("/")) < 3:
        return None
    return url


def _is_repository(url: str) -> bool:
    """github.com/owner/repo, not github.com itself or an owner's profile page."""
    path = url.split("/", 3)[3] if url.count("/") >= 3 else ""
    parts = [p for p in path.split("/") if p]
    return len(parts) >= 2
