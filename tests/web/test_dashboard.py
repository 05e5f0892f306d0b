"""Charts: the topic page's papers per week and the admin dashboard, as SVG drawn on the server
with a text equivalent; the dashboard's queries on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from lxml import html

from service.publish.charts import BarChart, last_weeks, nice_ceiling, papers_per_week_chart
from service.store.trends import bounces_since, complaints_since, deliveries_by_digest, signups_since
from tests.conftest import NOW
from tests.support.digest_data import runtime_for
from tests.support.forms import create_admin, sign_in
from tests.support.topic_data import load_testing_topic
from tests.support.trend_data import WEEK_STARTS, load_trends

# Pages and feeds see the frozen NOW, and every change in the store at once.
pytestmark = pytest.mark.app_options(clock=lambda: NOW, stamp_seconds=0)

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def trend_runtime(config, database_url):
    return runtime_for(config.with_overrides(database_url=database_url))


def test_it_reads_the_dashboards_numbers_from_the_store(trend_runtime):
    expected = load_trends(trend_runtime)
    since = WEEK_STARTS["2026-W03"] - timedelta(days=7)
    with trend_runtime.engine.connect() as conn:
        signups = signups_since(conn, since)
        bounces = bounces_since(conn, since)
        complaints = complaints_since(conn, since)
        digests = deliveries_by_digest(conn, 12)
        assert signups_since(conn, NOW - timedelta(days=1)) == [(NOW, "pending")] * 2
    assert len(signups) == 17
    assert sorted(b.date().isoformat() for b in bounces) == ["2026-01-28"] * 2
    assert [c.date().isoformat() for c in complaints] == ["2026-01-28"]
    assert digests == [(expected["digest_week"], {"sent": 10, "failed": 1, "retrying": 1})]


def test_it_counts_digests_without_deliveries(trend_runtime):
    from service.digest.digest import build_digest
    from service.store import write_transaction

    with write_transaction(trend_runtime.engine) as conn:
        build_digest(conn, trend_runtime.topics, "2026-W04", NOW)
    with trend_runtime.engine.connect() as conn:
        assert deliveries_by_digest(conn, 5) == [("2026-W04", {})]


def test_it_draws_bars_to_scale():
    chart = BarChart(
        id="c", title="t", columns=["2026-W01", "2026-W02", "2026-W03"], series=[("a", [4, 0, 2]), ("b", [1, 0, 3])]
    )
    assert chart.totals == [5, 0, 5] and chart.top == 5
    bars = chart.bars()
    assert [(b.series, b.label) for b in bars] == [
        (0, "2026-W01, a: 4"),
        (1, "2026-W01, b: 1"),
        (0, "2026-W03, a: 2"),
        (1, "2026-W03, b: 3"),
    ]
    plot = bars[0].height + bars[1].height
    assert plot == pytest.approx(240 - 20 - 30)  # a full column fills the plot
    assert bars[0].height == pytest.approx(plot * 4 / 5)
    assert bars[1].y + bars[1].height == pytest.approx(bars[0].y)  # stacked, touching
    assert chart.summary() == (
        "10 papers in total from 2026-W01 to 2026-W03 (a 6, b 4); most in 2026-W03 (5); 5 in 2026-W03."
    )
    assert {bar.key for bar in bars} == {"k-a", "k-b"}
    one = BarChart(id="d", title="t", columns=["2026-W05"], series=[("sent", [10]), ("failed", [2])])
    assert one.summary() == "12 papers in 2026-W05 (sent 10, failed 2)."
    assert one.bars()[0].width == 48  # a lone column is a bar, not a slab
    assert [nice_ceiling(v) for v in (0, 1, 3, 6, 45, 120)] == [1, 1, 4, 10, 50, 200]


def test_it_charts_26_weeks_of_a_topic():
    chart = papers_per_week_chart([("2026-W06", 12), ("2026-W03", 8), ("2025-W01", 99)], NOW)
    assert chart.columns == last_weeks(NOW, 26)
    assert chart.columns[0] == "2025-W33" and chart.columns[-1] == "2026-W06"
    values = dict(zip(chart.columns, chart.series[0][1]))
    assert values["2026-W06"] == 12 and values["2026-W03"] == 8 and sum(values.values()) == 20
    assert chart.x_labels()[-1][1] == "W06" and len(chart.x_labels()) <= 7
    assert chart.summary() == "20 papers in total from 2025-W33 to 2026-W06; most in 2026-W06 (12); 12 in 2026-W06."
    empty = papers_per_week_chart([], NOW)
    assert empty.bars() == [] and empty.summary() == "No papers in these 26 columns."


def assert_accessible_chart(figure, title: str, rows: int):
    svg = figure.find(f"{SVG}svg") if figure.find(f"{SVG}svg") is not None else figure.cssselect("svg")[0]
    assert svg.get("role") == "img"
    labels = svg.get("aria-labelledby").split()
    ids = {element.get("id"): element for element in svg.iter() if element.get("id")}
    assert [ids[label].text for label in labels][0] == title
    assert ids[labels[1]].text.endswith(".")
    table = figure.cssselect("details.chart-data table")[0]
    assert len(table.cssselect("tbody tr")) == rows
    assert figure.cssselect("figcaption")[0].text_content().strip()


def test_it_shows_papers_per_week_on_the_topic_page(app, client):
    recent, older = load_testing_topic(app.extensions["paperboy"].engine)
    for url in ("/topics/testing/", "/topics/testing/2026-W03/"):
        body = client.get(url).data
        doc = html.fromstring(body)
        figure = doc.cssselect("section.trend figure.chart")[0]
        assert_accessible_chart(figure, "Papers per week, last 26 weeks", 26)
        rows = {r.cssselect("th")[0].text: r.cssselect("td")[0].text for r in figure.cssselect("tbody tr")}
        assert rows["2026-W06"] == str(len(recent)) and rows["2026-W03"] == str(len(older))
        assert len(figure.cssselect("svg > rect.s0")) == 2  # two weeks with papers, two bars
        assert b"<script" not in body and b" style=" not in body


def test_it_shows_the_dashboard_to_admins_only(app, client):
    runtime = app.extensions["paperboy"]
    expected = load_trends(runtime)
    assert client.get("/admin/dashboard").status_code == 302  # to the sign-in page
    create_admin(runtime.engine)
    sign_in(client)
    response = client.get("/admin/dashboard")
    assert response.status_code == 200
    assert b"<script" not in response.data and b" style=" not in response.data
    doc = html.fromstring(response.data)
    assert "admin@example.org" in doc.cssselect("nav.admin")[0].text_content()  # and its Sign out
    figures = {f.get("id"): f for f in doc.cssselect("figure.chart")}
    assert list(figures) == ["signups", "deliveries", "bounces"]
    assert_accessible_chart(figures["signups"], "Sign-ups per week by status now, last 26 weeks", 26)
    assert_accessible_chart(figures["deliveries"], "Deliveries per digest by outcome, last 12 digests", 1)
    assert_accessible_chart(figures["bounces"], "Bounces and complaints per week, last 26 weeks", 26)

    def table(figure):
        head = [th.text for th in figure.cssselect("thead th")]
        return head, {
            r.cssselect("th")[0].text: [td.text for td in r.cssselect("td")] for r in figure.cssselect("tbody tr")
        }

    head, rows = table(figures["signups"])
    assert head == ["week", "active", "pending", "unsubscribed", "bounced", "complained", "total"]
    for week, counts in expected["signups"].items():
        assert rows[week] == [str(counts.get(s, 0)) for s in head[1:-1]] + [str(sum(counts.values()))]
    head, rows = table(figures["deliveries"])
    assert head == ["digest", "retrying", "sent", "failed", "total"]
    assert rows == {"2026-W05": ["1", "10", "1", "12"]}
    head, rows = table(figures["bounces"])
    assert head == ["week", "bounces", "complaints", "total"]
    assert rows["2026-W05"] == ["2", "1", "3"]
    assert sum(int(r[2]) for r in rows.values()) == 3
    legend = figures["deliveries"].cssselect(".legend")[0].text_content()
    assert re.sub(r"\s+", " ", legend).strip() == "retrying sent failed"
