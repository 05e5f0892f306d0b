"""Doctor: what paperboy reaches over HTTP: its own site at PAPERBOY_BASE_URL, and arXiv's API."""

from __future__ import annotations

import httpx

from service.config import Config
from service.errors import first_line
from service.operate.checks import Check, fail, ok

TIMEOUT = 10.0


def check_base_url(config: Config) -> Check:
    url = f"{config.base_url}/healthz"
    try:
        answer = httpx.get(url, timeout=TIMEOUT, follow_redirects=True)
    except httpx.HTTPError as error:
        return fail("base url", f"cannot reach {url}: {first_line(error) or type(error).__name__}")
    if answer.status_code != 200:
        return fail("base url", f"{url} answered {answer.status_code}, not 200: links in mail and feeds point there")
    return ok("base url", f"{url} answers 200")


def check_arxiv(config: Config) -> Check:
    url = config.arxiv_api_url
    try:
        answer = httpx.get(
            url,
            params={"search_query": "all:electron", "max_results": "1"},
            timeout=TIMEOUT,
            headers={"User-Agent": f"paperboy doctor (mailto:{config.mail_from_address})"},
        )
    except httpx.HTTPError as error:
        return fail("arxiv", f"cannot reach {url}: {first_line(error) or type(error).__name__}")
    if answer.status_code != 200 or "<feed" not in answer.text:
        return fail("arxiv", f"{url} answered {answer.status_code} without an Atom feed")
    return ok("arxiv", f"{url} answers with a feed")
