"""Admin sign-in: passwords, session cookies, every /admin route closed to visitors, CSRF on every form, rate limits."""

from __future__ import annotations

from werkzeug.routing import IntegerConverter

from service.web.admin.auth import OPEN_ENDPOINTS
from tests.support.forms import csrf_token, sign_in


def example_url(rule) -> str:
    values = {
        name: 1 if isinstance(converter, IntegerConverter) else "x" for name, converter in rule._converters.items()
    }
    return rule.build(values)[1]


# Signing in must be open; signing out without a session has nothing to end (it only redirects);
# "forgot password" and the page a mailed password link opens are for admins without a session.
PUBLIC_ADMIN_ENDPOINTS = {
    "sign_in.sign_in_form",
    "sign_in.sign_in_submit",
    "sign_in.sign_out_submit",
    "admins.forgot_form",
    "admins.forgot_submit",
    "admins.password_form",
    "admins.password_submit",
}


def test_only_signing_in_and_password_links_are_open():
    assert OPEN_ENDPOINTS == PUBLIC_ADMIN_ENDPOINTS


def test_it_signs_in_with_the_right_password_only(app, client, admin):
    wrong = sign_in(client, password="wrong password")
    assert wrong.status_code == 401 and b"Wrong email address or password." in wrong.data
    unknown = sign_in(client, email="nobody@example.org")
    assert unknown.status_code == 401 and unknown.data.count(b"Wrong email address") == 1
    assert client.get("/admin/").status_code == 302
    right = sign_in(client)
    assert right.status_code == 302 and right.headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_it_sets_httponly_samesite_cookies_and_secure_ones_on_https(app, client, admin, config):
    cookie = sign_in(client).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    from service.web import create_app

    secure_app = create_app(config.with_overrides(secure_cookies=True))
    secure_client = secure_app.test_client()
    assert "Secure" in sign_in(secure_client).headers["Set-Cookie"]


def test_it_clears_the_session_on_sign_in_and_sign_out(app, client, admin):
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    sign_in(client)
    with client.session_transaction() as session:
        assert "planted" not in session and session["admin_id"] == admin.id
    page = client.get("/admin/")
    out = client.post("/admin/sign-out", data={"csrf_token": csrf_token(page.data)})
    assert out.status_code == 302
    with client.session_transaction() as session:
        assert "admin_id" not in session
    assert client.get("/admin/").status_code == 302


def test_it_only_follows_next_inside_admin(app, client, admin):
    assert sign_in(client, next_url="/admin/import").headers["Location"] == "/admin/import"
    assert sign_in(client, next_url="https://evil.example/").headers["Location"] == "/admin/"
    assert sign_in(client, next_url="//evil.example/admin").headers["Location"] == "/admin/"


def test_it_refuses_every_admin_route_to_a_visitor(app, client, admin):
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/admin")]
    assert len(rules) >= 8
    for rule in rules:
        if rule.endpoint in PUBLIC_ADMIN_ENDPOINTS:
            continue
        url = example_url(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method == "GET":
                answer = client.get(url)
                assert answer.status_code == 302, url
                assert answer.headers["Location"].startswith("/admin/sign-in"), url
            else:
                # A visitor with a valid CSRF token still gets nothing.
                token = csrf_token(client.get("/admin/sign-in").data)
                answer = client.open(url, method=method, data={"csrf_token": token})
                assert answer.status_code == 403, (method, url)


# The only forms that post without a session token, each with what guards it instead.
TOKENLESS_POSTS = {
    # RFC 8058 one-click: the signed token in the URL is the authority.
    "subscribe.unsubscribe",
    # Public pages set no cookie, so the sign-up form carries no token: Origin and Sec-Fetch-Site
    # refuse other sites' forms, and a sign-up only queues a confirmation mail (double opt-in).
    "subscribe.subscribe",
}


def test_it_refuses_every_state_changing_request_without_a_csrf_token(app, client, admin):
    assert app.config.get("WTF_CSRF_ENABLED", True)
    sign_in(client)
    changing = {"POST", "PUT", "PATCH", "DELETE"}
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in TOKENLESS_POSTS:
            continue
        for method in sorted(rule.methods & changing):
            answer = client.open(example_url(rule), method=method, data={"email": "x@example.org"})
            # One handler for the whole app: every blueprint answers with the same page.
            assert answer.status_code == 400 and b"Form expired" in answer.data, (method, rule.rule)
            checked += 1
    assert checked >= 7
    with client.session_transaction() as session:
        assert session["admin_id"] == admin.id


def test_the_tokenless_sign_up_refuses_a_form_posted_from_another_site(client):
    form = {"email": "x@example.org", "topics": ["vla"]}
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
        answer = client.post("/subscribe", data=form, headers=headers)
        assert answer.status_code == 403, headers


def test_it_rate_limits_sign_in(config, admin):
    from service.web import create_app

    limited = create_app(config.with_overrides(rate_limits=True))
    client = limited.test_client()
    answers = [sign_in(client, password="guess").status_code for _ in range(11)]
    assert answers[:10] == [401] * 10 and answers[10] == 429
    assert sign_in(client).status_code == 429


def test_it_rate_limits_subscribe(config):
    from service.web import create_app

    limited = create_app(config.with_overrides(rate_limits=True))
    client = limited.test_client()
    token = csrf_token(client.get("/subscribe").data)
    answers = [
        client.post("/subscribe", data={"csrf_token": token, "email": "bad", "topics": ["vla"]}).status_code
        for _ in range(6)
    ]
    assert answers == [400] * 5 + [429]


def test_it_closes_an_admin_view_that_another_blueprint_adds_without_login_required(app, client, admin):
    app.add_url_rule("/admin/forgotten", "forgotten", lambda: "admin secrets", methods=["GET", "POST"])
    answer = client.get("/admin/forgotten")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/admin/sign-in")
    token = csrf_token(client.get("/admin/sign-in").data)
    assert client.post("/admin/forgotten", data={"csrf_token": token}).status_code == 403
    sign_in(client)
    assert client.get("/admin/forgotten").data == b"admin secrets"


def test_it_ignores_a_next_with_control_characters(app, client, admin):
    for target in ("/admin/\r\nSet-Cookie: planted=1", "/admin/\nLocation: https://evil.example/", "/admin/\x7f"):
        answer = sign_in(client, next_url=target)
        assert answer.status_code == 302 and answer.headers["Location"] == "/admin/", repr(target)


def test_it_ends_a_copied_session_cookie_when_the_admin_signs_out(app, client, admin):
    sign_in(client)
    copied = client.get_cookie("session").value
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/admin/").status_code == 200
    client.post("/admin/sign-out", data={"csrf_token": csrf_token(client.get("/admin/").data)})
    answer = thief.get("/admin/")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/admin/sign-in")
    # Signing in again starts a session that works.
    assert sign_in(client).status_code == 302 and client.get("/admin/").status_code == 200


def test_it_keeps_admin_pages_out_of_caches(app, client, admin):
    assert client.get("/admin/sign-in").headers["Cache-Control"] == "no-store"
    sign_in(client)
    for path in ("/admin/", "/admin/export.csv", "/admin/digests"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path
