"""axe-core (tests/data/axe-core, the npm package's axe.min.js) on every page in headless
Chromium, at desktop and phone widths: no violation of any rule it runs by default."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from service.digest.queue import queue_digest
from subscribers.tokens import confirm_token, preferences_token, unsubscribe_token
from tests.conftest import DATA, NOW
from tests.support.digest_data import ALICE, BOB, CAROL, WEEK, add_subscribers, load_week
from tests.support.forms import PASSWORD, create_admin
from tests.support.topic_data import load, load_testing_topic, many_papers_with_code

# Pages and feeds see the frozen NOW, and every change in the store at once.
pytestmark = pytest.mark.app_options(clock=lambda: NOW, stamp_seconds=0)

AXE = (DATA / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
WIDTHS = {"desktop": 1280, "phone": 390}
PAGE_OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
RUN_AXE = """async (skip) => {
  const rules = Object.fromEntries(skip.map(id => [id, {enabled: false}]));
  const result = await axe.run(document, {resultTypes: ['violations'], rules});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ': ' + n.failureSummary),
  }));
}"""


# Rules about a whole web page that an email body cannot follow: a mail client shows it inside
# its own page, which holds the main landmark and the level-one heading.
EMAIL_BODY_EXEMPT = ["landmark-one-main", "page-has-heading-one", "region"]


def axe_violations(page, skip: list[str] = ()) -> list[dict]:
    """axe's violations on the page as loaded (the context bypasses CSP to inject axe)."""
    page.add_script_tag(content=AXE)
    return page.evaluate(RUN_AXE, list(skip))


@pytest.fixture
def site(app, live_server):
    runtime = app.extensions["paperboy"]
    load_testing_topic(runtime.engine)
    load(runtime.engine, "vla", many_papers_with_code(250), matched=NOW - timedelta(days=7))  # three pages
    with runtime.engine.begin() as conn:
        load_week(conn)
        ids = add_subscribers(conn, [ALICE, BOB, CAROL], NOW)
    queued = queue_digest(runtime, WEEK, NOW)
    create_admin(runtime.engine)
    alice = ids[ALICE[0]]
    config = runtime.config
    public = {
        "home": "/",
        "topic": "/topics/testing/",
        "week": "/topics/testing/2026-W03/",
        "week-paged": "/topics/vla/2026-W05/?page=2",
        "search": "/search?q=testing",
        "search-empty": "/search",
        "search-no-match": "/search?q=zzzzqqq",
        "subscribe": "/subscribe",
        # The link is checked against the real clock: issued now.
        "confirm": f"/confirm/{confirm_token(config, alice, ['vla'], datetime.now(UTC))}",
        "preferences": f"/preferences/{preferences_token(config, alice)}",
        "unsubscribe": f"/unsubscribe/{unsubscribe_token(config, alice)}",
        "digest": f"/digests/{queued.digest.id}",
        "not-found": "/topics/nope/",
        "sign-in": "/admin/sign-in",
        "forgot-password": "/admin/forgot",
        "password-link-invalid": "/admin/password/not-a-token",
    }
    admin = {
        "admin-subscribers": "/admin/",
        "admin-subscriber": f"/admin/subscribers/{alice}",
        "admin-import": "/admin/import",
        "admin-digests": "/admin/digests",
        "admin-digest": f"/admin/digests/{queued.digest.id}",
        "admin-dashboard": "/admin/dashboard",
        "admin-inbound": "/admin/inbound/",
        "admin-bulk-confirm": "/admin/bulk/?action=add-topic&topic=testing",
        "admin-admins": "/admin/admins/",
        "admin-topics": "/admin/topics/",
        "admin-topic-new": "/admin/topics/new",
        "admin-topic-edit": "/admin/topics/vla/edit",
        "admin-admin": "/admin/admins/1",
    }
    return live_server, public, admin


def open_context(browser, width: int):
    return browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)


def sign_in(page, base: str) -> None:
    page.goto(base + "/admin/sign-in")
    page.fill('input[name="email"]', "admin@example.org")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button:has-text("Sign in")')
    page.wait_for_url(base + "/admin/")


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_it_passes_axe_on_every_public_page(browser, site, width):
    base, public, _ = site
    context = open_context(browser, width)
    try:
        page = context.new_page()
        found = {}
        for name, path in public.items():
            page.goto(base + path)
            found[name] = axe_violations(page)
        failing = {name: v for name, v in found.items() if v}
        assert not failing, json.dumps(failing, indent=1)
    finally:
        context.close()


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_it_passes_axe_on_every_admin_page(browser, site, width, tmp_path):
    base, _, admin = site
    context = open_context(browser, width)
    try:
        page = context.new_page()
        sign_in(page, base)
        found = {}
        sideways = {}
        for name, path in admin.items():
            page.goto(base + path)
            found[name] = axe_violations(page)
            sideways[name] = page.evaluate(PAGE_OVERFLOW)
        # The email as it will be sent, a body that a mail client embeds in its own page.
        page.goto(f"{base}/admin/digests/preview?week={WEEK}")
        found["admin-digest-preview"] = axe_violations(page, skip=EMAIL_BODY_EXEMPT)
        # The import preview, with a bad row to show.
        source = tmp_path / "list.csv"
        source.write_text("email,topics,status\nnew@example.org,vla,active\nnot-an-address,vla,active\n")
        page.goto(base + "/admin/import")
        page.set_input_files('input[name="file"]', str(source))
        page.click('button:has-text("Preview")')
        page.wait_for_selector("text=not-an-address")
        found["admin-import-preview"] = axe_violations(page)
        # A topic's preview, from the store (arXiv does not answer in tests).
        page.goto(base + "/admin/topics/vla/edit")
        page.click('button:has-text("Preview the last 7 days")')
        page.wait_for_selector("#preview-title")
        found["admin-topic-preview"] = axe_violations(page)
        sideways["admin-topic-preview"] = page.evaluate(PAGE_OVERFLOW)
        failing = {name: v for name, v in found.items() if v}
        assert not failing, json.dumps(failing, indent=1)
        # No admin page scrolls sideways; wide tables scroll inside their own box.
        assert {name: px for name, px in sideways.items() if px > 0} == {}
    finally:
        context.close()


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_it_passes_axe_on_the_exported_html(browser, site, app, width, tmp_path):
    from service.web.static_site import export_site

    out = tmp_path / "site"
    export_site(app.extensions["paperboy"].config, out, clock=lambda: NOW)
    context = open_context(browser, width)
    try:
        page = context.new_page()
        found = {}
        for path in (
            "index.html",
            "topics/testing/index.html",
            "topics/testing/2026-W03/index.html",
            "topics/vla/index.html",
        ):
            page.goto((out / path).as_uri())
            found[path] = axe_violations(page)
        failing = {name: v for name, v in found.items() if v}
        assert not failing, json.dumps(failing, indent=1)
    finally:
        context.close()
