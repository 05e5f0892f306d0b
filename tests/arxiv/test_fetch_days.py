"""Forty daily fetches against arXiv replayed day by day (tests/arxiv_days.py): weekends,
holidays, papers held 2 to 15 days, new versions, withdrawals, an index that lags, a paper
announced while a fetch pages (totalResults grows between pages), a day
arXiv is down and a day a page stays cut off. Afterwards every announced paper is stored
once, in its latest version, in the week it was first matched, and in that week's digest."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest

from service.arxiv.client import ArxivClient
from service.arxiv.fetch import Progress, fetch_topics
from service.digest.digest import build_digest
from service.model.weeks import week_of
from service.runtime import Runtime
from service.store import papers, runs
from service.store.schema import topic_paper
from tests.support.arxiv_days import WITHDRAWN, ArxivDaysServer, Schedule, Simulation

QUERY = "all:testing"
FIRST = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)  # a Monday; the scheduler fetches at 06:00
DAYS = 40
OUTAGE, TRUNCATED_ONCE, CUT_OFF = 17, 23, 29  # days on which arXiv misbehaves
GROWS = 11  # a paper is announced while that day's fetch pages: totalResults grows between pages
PAGE = 50
HOLIDAYS = {date(2026, 1, 19), date(2026, 1, 20)}  # two days without announcements


def simulation() -> Simulation:
    sim = Simulation(Schedule(HOLIDAYS), seed=9)
    sim.generate(QUERY, FIRST - timedelta(days=10), DAYS + 9, per_day=5)
    # The hardest cases, planted: a paper held 15 days; one whose v1 is announced just
    # before the outage and its v2 the day after, so its first sight is the v2.
    sim.add(QUERY, datetime(2026, 1, 8, 12, 0, tzinfo=UTC), held_days=15)
    outage_eve = FIRST + timedelta(days=OUTAGE - 1, hours=1)
    sim.add(QUERY, outage_eve - timedelta(hours=2), later=[(timedelta(hours=20), "v2: fixed a typo")])
    sim.add(QUERY, datetime(2026, 1, 13, 9, 0, tzinfo=UTC), later=[(timedelta(days=30), WITHDRAWN)])
    grows = FIRST + timedelta(days=GROWS)
    sim.add(QUERY, grows - timedelta(hours=3), visible=grows + timedelta(minutes=1))
    return sim


def faults(server: ArxivDaysServer, day: int):
    """What arXiv does wrong on `day`: it is down, or a page arrives cut off (once, or always)."""
    seen = set()

    def fault(params):
        start = int(params.get("start", 0))
        if day == OUTAGE:
            return 503, b"<html>Service Unavailable</html>"
        cut = (day == TRUNCATED_ONCE and start == PAGE and start not in seen) or (day == CUT_OFF and start == PAGE)
        seen.add(start)
        if cut:  # what a dropped connection leaves of a real page
            return 200, server.simulation.answer(params, server.clock)[1][:3000]
        return None

    return fault


@pytest.fixture
def days_runtime(config, database_url):
    with ArxivDaysServer(simulation()) as server:
        runtime = Runtime(config.with_overrides(database_url=database_url, arxiv_api_url=server.url, arxiv_retries=1))
        yield runtime, server
        if "engine" in runtime.__dict__:
            runtime.engine.dispose()


def test_it_stores_every_announced_paper_once_in_the_week_it_was_first_matched(days_runtime):
    runtime, server = days_runtime
    sim = server.simulation
    topic = runtime.topic("testing")
    statuses = {}
    fetch_times = [FIRST + timedelta(days=day) for day in range(DAYS)]
    for day, now in enumerate(fetch_times):
        server.clock = now
        server.fault = faults(server, day)

        def move_clock(params, day=day, now=now):
            if day == GROWS and params.get("start") == str(PAGE):
                server.clock = now + timedelta(minutes=2)

        server.on_request = move_clock
        client = ArxivClient.from_config(runtime.config, sleep=lambda seconds: None, page_size=PAGE)
        with client:
            report = fetch_topics(runtime, [topic], now=now, client=client, progress=Progress(io.StringIO()))
        statuses[day] = report.results[0].status
        if day == GROWS:
            grown = [len(sim.visible(QUERY, now)), len(sim.visible(QUERY, server.clock))]
            assert grown[1] == grown[0] + 1
    assert statuses[OUTAGE] == "failed" and statuses[CUT_OFF] == "partial" and statuses[TRUNCATED_ONCE] == "ok"
    assert sum(status == "ok" for status in statuses.values()) == DAYS - 2

    last = fetch_times[-1]
    announced = sim.visible(QUERY, last)
    assert len(announced) > 150
    assert sum(p.held_days > 0 for p in announced) > 10
    assert any(p.held_days == 15 for p in announced)
    assert sum(len(p.versions) > 1 for p in announced) > 20
    ok_times = [t for day, t in enumerate(fetch_times) if statuses[day] == "ok"]

    with runtime.engine.connect() as conn:
        matched = dict(
            conn.execute(
                topic_paper.select()
                .with_only_columns(topic_paper.c.paper_id, topic_paper.c.first_matched)
                .where(topic_paper.c.topic == "testing")
            ).all()
        )
        assert sorted(matched) == sorted(p.id for p in announced)  # every paper, once
        assert papers.count_papers(conn) == len(announced)
        for paper in announced:
            stored = papers.get_paper(conn, paper.id)
            version = paper.at(last)
            assert (stored.version, stored.published) == (version.number, paper.published), paper.id
            assert stored.withdrawn == (version.comment == WITHDRAWN)
            visible = paper.versions[0].visible
            # First matched by the first fetch that saw it; the cut-off day may have left it to the next.
            expected = next(t for t in ok_times if t >= visible)
            cut_off_day = fetch_times[CUT_OFF]
            allowed = {expected} | ({cut_off_day} if visible <= cut_off_day < expected else set())
            assert matched[paper.id] in allowed, (paper.id, paper.held_days, matched[paper.id], expected)
        assert [r.status for r in runs.runs_for_topic(conn, "testing")].count("running") == 0

    # Each complete week's digest holds exactly the papers first matched that week, withdrawn ones left out.
    with runtime.engine.begin() as conn:
        for week in sorted({week_of(t) for t in fetch_times})[:-1]:
            digest = build_digest(conn, runtime.topics, week, last + timedelta(days=1))
            expected = {p.id for p in announced if week_of(matched[p.id]) == week and not p.withdrawn_at(last)}
            assert {p.id for p in digest.papers.get("testing", [])} == expected, week
