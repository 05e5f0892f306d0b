"""Code repositories and project pages mentioned in a paper's abstract or arXiv comment."""

from __future__ import annotations

import re

CODE_HOSTS = ("github.com", "gitlab.com", "huggingface.co", "codeberg.org", "bitbucket.org")
# First path segments on code hosts that are site pages, not an owner's repositories.
NOT_OWNERS = {
    "orgs",
    "topics",
    "sponsors",
    "features",
    "marketplace",
    "settings",
    "about",
    "explore",
    "papers",
    "docs",
    "blog",
    "learn",
    "pricing",
    "collections",
}
PAGE_HOST_SUFFIXES = (".github.io", ".gitlab.io")

# A URL with or without a scheme: host with a top-level domain, optional port and path.
URL = re.compile(
    r"(?:https?://)?"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}"
    r"(?::\d+)?(?:/[^\s<>\"'(){}\[\]]*)?",
)
# What introduces a project page: "Project page: ...", "website at ...", "homepage ...".
PROJECT_CUE = re.compile(
    r"\b(project\s+(?:page|site|website|webpage|homepage)|website|web\s*site|homepage|home\s+page"
    r"|webpage|web\s+page)\b[^.;]{0,40}?[:\s]\s*$",
    re.IGNORECASE,
)
TRAILING = ".,;:!?)]}'\"`"
# The text before a line break that continues a URL: a scheme, "www." or a host with a path.
URL_HEAD = re.compile(r"(?:https?://|www\.|[A-Za-z0-9-]+\.[A-Za-z]{2,}/)\S*$")
HOST_HEAD = re.compile(r"(?:https?://)?(?:[A-Za-z0-9-]+\.)+$")


def find_links(*texts: str | None) -> tuple[list[str], list[str]]:
    """(code URLs, project page URLs) found in `texts`, in order of appearance, no duplicates."""
    code: list[str] = []
    project: list[str] = []
    seen: set[str] = set()
    for text in texts:
        if not text:
            continue
        text = unwrap(text)
        for match in URL.finditer(text):
            raw = match.group(0)
            before = text[match.start() - 1] if match.start() > 0 else " "
            after = text[match.end()] if match.end() < len(text) else " "
            if before in "@/.:-_" or before.isalnum() or after == "@":
                continue  # part of an email address or of a longer token
            url = _normalize(raw)
            if url is None:
                continue
            key = url.rstrip("/").lower().split("://", 1)[1]
            if key in seen:
                continue
            host = url.split("/")[2].lower().removeprefix("www.")
            if host in CODE_HOSTS:
                if _is_repository(url):
                    code.append(url)
                    seen.add(key)
            elif host.endswith(PAGE_HOST_SUFFIXES) or PROJECT_CUE.search(text[: match.start()]):
                project.append(url)
                seen.add(key)
    return code, project


def unwrap(text: str) -> str:
    """Join URLs that a line break split ("https://foo.github.\\n  io/bar"); leave prose alone."""
    lines = text.split("\n")
    joined = lines[0]
    for line in lines[1:]:
        rest = line.lstrip()
        head = joined.rsplit(None, 1)[-1] if joined.strip() else ""
        if head and rest and _continues_url(head, rest):
            joined += rest
        else:
            joined += "\n" + line
    return joined


def _continues_url(head: str, rest: str) -> bool:
    if head.endswith("."):
        # Inside a host name only ("foo.github." + "io/bar"), never after a path's full stop.
        return bool(HOST_HEAD.fullmatch(head)) and re.match(r"[a-z]{2,}(?:[/.:]|\s|$)", rest) is not None
    if head.endswith(("/", "-", "_")):
        return bool(URL_HEAD.search(head)) and re.match(r"[A-Za-z0-9]", rest) is not None
    return False


def _normalize(raw: str) -> str | None:
    url = raw.rstrip(TRAILING)
    if not url.lower().startswith(("http://", "https://")):
        url = "https://" + url
    host = url.split("/")[2]
    if not re.search(r"\.[A-Za-z]{2,}(?::\d+)?$", host):
        return None
    return url


def _is_repository(url: str) -> bool:
    """github.com/owner/repo (or huggingface.co/datasets/owner/name), not a profile or site page."""
    parts = [p for p in url.split("/")[3:] if p]
    if len(parts) < 2 or parts[0].lower() in NOT_OWNERS:
        return False
    host = url.split("/")[2].lower().removeprefix("www.")
    if host == "huggingface.co" and parts[0] in ("datasets", "spaces"):
        return len(parts) >= 3
    return True
