"""Headless Chromium: an invited admin sets a password from the mailed link and signs in; a
password reset link works once."""

from __future__ import annotations

import pytest

from tests.support.forms import PASSWORD, create_admin, mailed_admin_link

NEW_PASSWORD = "a long new password"


@pytest.fixture
def config(config, smtp_server):
    return config.with_overrides(smtp_url=smtp_server.url)


def sign_in(page, base, email, password):
    page.goto(base + "/admin/sign-in")
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', password)
    page.click('button:has-text("Sign in")')


def choose_password(page, password):
    page.fill('input[name="password"]', password)
    page.fill('input[name="again"]', password)
    page.click('button:has-text("Set the password")')


def test_an_invited_admin_sets_a_password_and_signs_in(browser, app, app_engine, live_server, smtp_server):
    create_admin(app_engine)
    inviter = browser.new_context()
    invited = browser.new_context()
    try:
        page = inviter.new_page()
        sign_in(page, live_server, "admin@example.org", PASSWORD)
        page.click("nav.admin >> text=Admins")
        page.fill("#invite-email", "colleague@example.org")
        page.click('button:has-text("Send the invitation")')
        page.wait_for_selector("text=Invitation queued for colleague@example.org")
        link = mailed_admin_link(app, smtp_server)

        theirs = invited.new_page()
        theirs.goto(live_server + link)
        choose_password(theirs, NEW_PASSWORD)
        theirs.wait_for_selector("text=Your password is set; you are signed in.")
        theirs.click("button:has-text('Sign out')")
        sign_in(theirs, live_server, "colleague@example.org", NEW_PASSWORD)
        theirs.wait_for_selector("h1:has-text('Subscribers')")
        assert theirs.locator("nav.admin .who").inner_text() == "colleague@example.org"

        page.goto(live_server + "/admin/admins/")
        page.click("text=colleague@example.org")
        assert page.locator("table.sign-ins tbody tr").count() == 2  # the password set, then a sign-in
    finally:
        inviter.close()
        invited.close()


def test_a_reset_link_works_once(page, app, app_engine, live_server, smtp_server):
    create_admin(app_engine)
    page.goto(live_server + "/admin/sign-in")
    page.click("text=Forgot your password?")
    page.fill('input[name="email"]', "admin@example.org")
    page.click('button:has-text("Mail me a link")')
    page.wait_for_selector("text=If that address belongs to an admin")
    link = mailed_admin_link(app, smtp_server)
    page.goto(live_server + link)
    choose_password(page, NEW_PASSWORD)
    page.wait_for_selector("h1:has-text('Subscribers')")
    page.click("button:has-text('Sign out')")

    page.goto(live_server + link)
    page.wait_for_selector("text=This link was used already")
    assert page.locator('input[name="password"]').count() == 0
    sign_in(page, live_server, "admin@example.org", PASSWORD)
    page.wait_for_selector("text=Wrong email address or password.")
    sign_in(page, live_server, "admin@example.org", NEW_PASSWORD)
    page.wait_for_selector("h1:has-text('Subscribers')")
