"""Every public and admin route, signed in, with hostile values in its address, its query
parameters and its form fields (NUL bytes, numbers past what a column holds, weeks out of range,
broken tokens, oversized and odd Unicode), on SQLite and PostgreSQL: never a 5xx.

A sweep sends each hostile value in every place once; hypothesis then mixes them at random."""

from __future__ import annotations

import io
import re
from collections import Counter
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subscribers.tokens import confirm_token, preferences_token, unsubscribe_token
from tests.conftest import NOW
from tests.support.digest_data import ALICE, BOB, WEEK, add_subscribers, load_week
from tests.support.forms import create_admin, sign_in

# Every name a form or query of paperboy reads (request.args / request.form in service/web).
FIELDS = [
    "action",
    "authors",
    "block",
    "confirm",
    "delete",
    "digest_length",
    "email",
    "fingerprint",
    "format",
    "having",
    "keywords_exclude",
    "keywords_include",
    "next",
    "page",
    "password",
    "per_topic",
    "q",
    "sort",
    "state",
    "status",
    "topic",
    "topics",
    "week",
    "kind",
]
HOSTILE = [
    "\x00",
    "a\x00b",
    "%00",
    "alice\x00@example.org",
    "2147483648",
    "-2147483649",
    str(2**63),
    str(2**64),
    "9" * 400,
    "-1",
    "0",
    "1e400",
    "NaN",
    "9999-W52",
    "9999-W53",
    "0000-W01",
    "0001-W01",
    "2026-W00",
    "2026-W99",
    "../../etc/passwd",
    "eyJzIjoxfQ.broken.token",
    "x" * 3000,
    "\u202e\ufeff\u200b\U0001f4a9",
    "\udcff",
    "é" * 1000,
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "",
    " ",
]
# Routes the sweep leaves alone: signing out would end the session the rest needs.
SKIPPED = {"sign_in.sign_out_submit", "static"}
ARGUMENT = re.compile(r"<(?:[^:>]+:)?([^>]+)>")


def signed_tokens(config) -> list[str]:
    """Tokens signed with the real secret, for ids no row has and ids no column holds."""
    ids = [2**31, 2**63, 2**64 + 1, -1, 0]
    tokens = [unsubscribe_token(config, number) for number in ids]
    tokens += [preferences_token(config, number) for number in ids]
    tokens += [confirm_token(config, number, ["testing", "\x00"], NOW) for number in ids]
    return tokens


@pytest.fixture
def fuzzed(config, database_url):
    """A signed-in admin's client of an app with papers, subscribers and CSRF checks off (the
    values must reach the views; CSRF itself is tested elsewhere)."""
    from service.web import create_app

    app = create_app(config.with_overrides(database_url=database_url))
    app.config["WTF_CSRF_ENABLED"] = False
    engine = app.extensions["paperboy"].engine
    with engine.begin() as conn:
        load_week(conn)
        ids = add_subscribers(conn, [ALICE, BOB], NOW)
    create_admin(engine)
    client = app.test_client()
    sign_in(client)
    yield app, client, Counter(), ids
    app.extensions["paperboy"].close()


def _rules(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if rule.endpoint in SKIPPED:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.rule, method


def _good_arguments(config, ids: dict[str, int]) -> dict[str, str]:
    """A value for each route argument that names something real, so a hostile value in one
    place reaches the code behind the others."""
    alice = ids[ALICE[0]]
    return {
        "slug": "testing",
        "week": WEEK,
        "digest_id": "1",
        "subscriber_id": str(alice),
        "message_id": "1",
        "upload_id": "0" * 32,
        "filename": "paperboy.css",
        "confirm": confirm_token(config, alice, ["testing"], NOW),
        "unsubscribe": unsubscribe_token(config, alice),
        "preferences": preferences_token(config, alice),
    }


def _path(rule: str, good: dict[str, str], hostile: str | None = None, at: int = -1) -> str:
    """`rule` with real values for its arguments, but `hostile` as argument number `at`."""
    kind = rule.strip("/").split("/")[0]
    count = iter(range(100))

    def value(match: re.Match) -> str:
        if next(count) == at and hostile is not None:
            return quote(hostile.encode("utf-8", "surrogatepass"), safe="")
        name = match.group(1)
        # Arguments added since this test was written get a plain number or word.
        return good.get(kind, "x") if name == "token" else good.get(name, "1")

    return ARGUMENT.sub(value, rule)


def _send(client, counts: Counter, method: str, path: str, fields: dict[str, str]) -> None:
    query = {name: value.encode("utf-8", "surrogatepass") for name, value in fields.items()}
    try:
        if method == "GET":
            answer = client.get(path, query_string=query)
        else:
            answer = client.open(path, method=method, data=query)
        status = answer.status_code
        if path.startswith("/admin") and "/admin/sign-in" in answer.headers.get("Location", ""):
            sign_in(client)  # a value that removed or signed out the admin: the rest still needs one
    except Exception as error:  # noqa: BLE001 - with TESTING on, a view's exception arrives here
        status, answer = 500, error
    counts["requests"] += 1
    if status >= 500:
        counts["5xx"] += 1
        shown = {name: value[:30] for name, value in fields.items()}
        counts[f"{status} {method} {path[:120]} {shown} {answer!r:.100}"] += 1


def test_no_hostile_value_in_any_place_gets_a_5xx(fuzzed, config):
    app, client, counts, ids = fuzzed
    good = _good_arguments(config, ids)
    values = HOSTILE + signed_tokens(config)
    rules = list(_rules(app))

    # The sweep: each value as each argument of every route (real values in the others), and
    # as every field at once.
    for rule, method in rules:
        for value in values:
            for at in range(len(ARGUMENT.findall(rule))):
                _send(client, counts, method, _path(rule, good, value, at), {})
            _send(client, counts, method, _path(rule, good), dict.fromkeys(FIELDS, value))

    # A subscriber CSV with the value in each column, previewed and, where it parses, imported.
    for value in values:
        text = f"email,topics,status,keywords_include\n{value}@example.org,testing,active,\nx@example.org,{value},{value},{value}\n"
        data = {"file": (io.BytesIO(text.encode("utf-8", "surrogatepass")), "list.csv")}
        counts["requests"] += 1
        preview = client.post("/admin/import", data=data, content_type="multipart/form-data")
        upload = re.search(rb'action="/admin/import/([0-9a-f]+)"', preview.data)
        if upload:
            _send(client, counts, "POST", f"/admin/import/{upload.group(1).decode()}", {"confirm": "1"})
        if preview.status_code >= 500:
            counts["5xx"] += 1
            counts[f"{preview.status_code} POST /admin/import with {value[:30]!r}"] += 1

    # Then at random: a value per place, any subset of fields.
    hostile_text = st.one_of(
        st.sampled_from(values),
        st.text(st.characters(exclude_categories=["Cs"]), max_size=300),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
    )

    @settings(max_examples=250, deadline=None, database=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(
        st.sampled_from(rules),
        hostile_text,
        st.integers(min_value=-1, max_value=1),
        st.dictionaries(st.sampled_from(FIELDS), hostile_text, max_size=6),
    )
    def one_request(rule_method, argument, at, fields):
        rule, method = rule_method
        _send(client, counts, method, _path(rule, good, argument, at), fields)

    one_request()
    store = "PostgreSQL" if app.extensions["paperboy"].config.database_url.startswith("postgresql") else "SQLite"
    print(f"\n{store}: {counts['requests']} requests, {counts['5xx']} answered 5xx")
    failures = [key for key in counts if key not in ("requests", "5xx")]
    assert counts["5xx"] == 0, "\n".join(failures[:40])
