"""End to end: readers press "More like this" or "Fewer like this" on a paper of one week's digest
(delivered over SMTP, the button pressed in Chromium), and next week's digest ranks by it."""

from __future__ import annotations

import re
import threading

import lxml.html
import pytest

from service.outbound.digests import send_digest
from service.store.subscribers import votes
from tests.conftest import NOW
from tests.support.digest_data import WEEK, FakeClock, add_subscribers, load_week

WEEK_BEFORE = "2026-W04"  # the 80 testing papers load_week first matched the week before WEEK
READERS = {
    "more": "more@example.org",
    "fewer": "fewer@example.org",
    "undo": "undo@example.org",
    "none": "none@example.org",
}


@pytest.fixture
def config(config, smtp_server):
    return config.with_overrides(smtp_url=smtp_server.url)


def send(app, week: str) -> None:
    """The week's digest, sent as the scheduler sends it; in a thread of its own because
    Playwright's event loop runs in this one."""
    runtime = app.extensions["paperboy"]
    sender = threading.Thread(target=send_digest, args=(runtime, week), kwargs={"now": NOW, "clock": FakeClock(NOW)})
    sender.start()
    sender.join()


def mails_to(smtp_server, address: str) -> list:
    return [msg for env, msg in zip(smtp_server.handler.envelopes, smtp_server.messages) if env.rcpt_tos == [address]]


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def full_papers(message) -> list[tuple[str, str]]:
    """(arXiv id, the reason shown) of each paper in full, in the mail's order."""
    document = lxml.html.fromstring(html_of(message))
    found = []
    for link in document.xpath('//a[text()="More like this"]'):
        paper_id = link.get("href").rsplit("/more/", 1)[1]
        block = link.getparent().getparent()
        reason = next((text for text in block.itertext() if "that you marked" in text), "")
        found.append((paper_id, reason.strip()))
    return found


def words(paper) -> set[str]:
    return set(re.findall(r"[a-z]{4,}", f"{paper.title} {paper.abstract}".lower()))


def overlap(a, b) -> float:
    return len(words(a) & words(b)) / len(words(a) | words(b))


def press(page, live_server, message, kind: str, paper_id: str, button: str) -> None:
    """Follow the paper's link in the mail and press the page's one button."""
    [href] = [
        a.get("href")
        for a in lxml.html.fromstring(html_of(message)).xpath("//a")
        if a.get("href", "").endswith(f"/{kind}/{paper_id}")
    ]
    page.goto(href.replace("http://paperboy.test", live_server))
    assert page.locator("main").get_by_role("button").count() == 1  # the GET shows the paper and one button
    page.get_by_role("button", name=button).click()
    page.wait_for_selector("text=Saved")


def test_readers_rank_next_weeks_digest_with_their_votes(app, app_engine, live_server, smtp_server, page, tmp_path):
    with app_engine.begin() as conn:
        testing, _ = load_week(conn)
        ids = add_subscribers(conn, [(address, ["testing"]) for address in READERS.values()], NOW)
    send(app, WEEK_BEFORE)
    first = {kind: mails_to(smtp_server, address)[0] for kind, address in READERS.items()}
    shown = full_papers(first["more"])
    marked = shown[-1][0]  # the last paper in full: the vote must bring its likes up from below
    with app_engine.connect() as conn:
        assert votes.votes_of(conn, ids[READERS["more"]]) == []  # opening the links (a scanner) recorded nothing

    press(page, live_server, first["more"], "more", marked, "More like this")
    page.screenshot(path=str(tmp_path / "more-like-this.png"), full_page=True)
    press(page, live_server, first["fewer"], "fewer", marked, "Fewer like this")
    press(page, live_server, first["undo"], "more", marked, "More like this")
    page.get_by_role("button", name="Undo").click()
    page.wait_for_selector("text=Your mark on this paper is gone")
    with app_engine.connect() as conn:
        assert [(v.paper.id, v.vote) for v in votes.votes_of(conn, ids[READERS["more"]])] == [(marked, votes.MORE)]
        assert [(v.paper.id, v.vote) for v in votes.votes_of(conn, ids[READERS["fewer"]])] == [(marked, votes.FEWER)]
        assert votes.votes_of(conn, ids[READERS["undo"]]) == []
        liked = next(v.paper for v in votes.votes_of(conn, ids[READERS["more"]]))

    send(app, WEEK)
    second = {kind: mails_to(smtp_server, address)[1] for kind, address in READERS.items()}
    by_id = {paper.id: paper for paper in testing}
    plain, more, fewer, undone = (full_papers(second[kind]) for kind in ("none", "more", "fewer", "undo"))
    # Undo restores the topic's order; with no votes the order is the topic's.
    assert undone == plain and all(reason == "" for _, reason in plain)
    # The marked paper's likes come first, saying why; those of the rejected one go last.
    assert more != plain and more[0][1].startswith("like '" + " ".join(liked.title.split())[:40])
    assert more[0][1].endswith("' that you marked")

    # Measured apart from the ranking's own vectors: the first papers share more words with the marked one.
    def closeness(papers):
        return sum(overlap(by_id[paper_id], liked) for paper_id, _ in papers[:3]) / 3

    assert closeness(more) > closeness(plain) > closeness(fewer)
    assert {paper_id for paper_id, _ in more} <= set(by_id) and fewer != plain
    fewer_ids = [paper_id for paper_id, _ in fewer]
    nearest = more[0][0]
    assert nearest not in fewer_ids[: len(fewer_ids) // 2] and all(reason == "" for _, reason in fewer)
    text = second["more"].get_body(("plain",)).get_content()
    assert "that you marked" in text and "More like this: http://paperboy.test/preferences/" in text
