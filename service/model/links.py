"""Code repositories and project pages mentioned in a paper's abstract or arXiv comment."""

from __future__ import annotations

import re

CODE_HOSTS = (
    "github.com",
    "gitlab.com",
    "huggingface.co",
    "codeberg.org",
    "bitbucket.org",
    "gitcode.com",
    "anonymous.4open.science",  # anonymised repositories for review: /r/<name>
)
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
    "models",
    "join",
    "login",
}
# Hugging Face pages that hold a release under an owner: /datasets/o/n, /spaces/o/n, /collections/o/n.
HF_KINDS = ("datasets", "spaces", "collections")
# Hosts whose links are never a paper's project page: references, videos, reviews.
NOT_PROJECT_HOSTS = ("doi.org", "dx.doi.org", "arxiv.org", "youtube.com", "youtu.be", "openreview.net", "x.com")
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
# What introduces a release somewhere other than a code host: "code will be available at ...",
# "we release our code and datasets at ...", "a web-based demo is available at ...".
RELEASE_CUE = re.compile(
    r"\b(?:code|codes|data|datasets?|benchmarks?|models?|weights|implementation|demos?|packages?|toolkit)\b"
    r"[^.;]{0,80}?\b(?:available|released?|found|hosted|accessible|at)\b[^.;]{0,20}?[:\s]\s*$",
    re.IGNORECASE,
)
# An HTML anchor around the URL whose text names a project page: <a href="URL" ...>Project Page</a>.
ANCHOR_CUE = re.compile(r'^"[^<>]{0,200}>\s*(?:project\s+(?:page|site|website)|website|homepage)\s*</a>', re.IGNORECASE)
# TeX escapes inside URLs ("Persona\_Paradox"), TeX's URL commands ("\url{...}", "\href{...}{...}")
# and a space after the scheme ("https: //").
TEX_ESCAPE = re.compile(r"\\([_%&#~])")
TEX_URL = re.compile(r"\\(?:url|href)\{")
SPLIT_SCHEME = re.compile(r"\b(https?):\s+//")
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
        text = SPLIT_SCHEME.sub(r"\1://", TEX_ESCAPE.sub(r"\1", TEX_URL.sub(" ", unwrap(text))))
        for match in URL.finditer(text):
            raw = match.group(0)
            before = text[match.start() - 1] if match.start() > 0 else " "
            after = text[match.end()] if match.end() < len(text) else " "
            # A scheme starts a URL whatever punctuation precedes it ("at:https://", "link-https://");
            # without one, "x.y.com" after "." or "-" and "a@b.org" are parts of other tokens.
            schemed = raw.lower().startswith(("http://", "https://"))
            if before in ("@/" if schemed else "@/.:-_") or before.isalnum() or after == "@":
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
            elif host.endswith(PAGE_HOST_SUFFIXES) or _introduced_as_page(text, match, host):
                project.append(url)
                seen.add(key)
    return code, project


def _introduced_as_page(text: str, match: re.Match[str], host: str) -> bool:
    """Whether the words around a URL off the code hosts make it the paper's own page."""
    if host in NOT_PROJECT_HOSTS or host.endswith(tuple("." + h for h in NOT_PROJECT_HOSTS)):
        return False
    before = text[: match.start()]
    return bool(PROJECT_CUE.search(before) or RELEASE_CUE.search(before) or ANCHOR_CUE.match(text[match.end() :]))


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
    """github.com/owner/repo (or huggingface.co/datasets/owner/name), not a profile or site page.
    On Hugging Face an owner's page (huggingface.co/org) holds its models and datasets, so it counts."""
    parts = [p for p in url.split("/")[3:] if p]
    host = url.split("/")[2].lower().removeprefix("www.")
    if host == "huggingface.co" and parts and parts[0] in HF_KINDS:
        return len(parts) >= 3
    if not parts or parts[0].lower() in NOT_OWNERS:
        return False
    return len(parts) >= 2 or host == "huggingface.co"
