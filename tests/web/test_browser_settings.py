"""Headless Chromium at a phone's width (390 px) and a desktop's (1280 px): the reader's preferences
page and the confirmation mail fit the screen, and every label sits with its field."""

from __future__ import annotations

import pytest

from service.store.subscribers.imports import ImportRow
from service.store.subscribers.records import subscriber_by_email
from subscribers.emails import confirmation_message
from subscribers.imports import import_rows
from subscribers.tokens import preferences_url
from tests.conftest import NOW

WIDTHS = [390, 1280]
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
# Each label with its field: a label for= an input, select or textarea, or one wrapping a checkbox
# beside its text.
LABELS = """() => [...document.querySelectorAll('main label')].map(label => {
  const field = label.htmlFor ? document.getElementById(label.htmlFor)
                              : label.querySelector('input, select, textarea');
  const text = label.htmlFor ? label : (label.querySelector('span') || label);
  const box = element => { const r = element.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const hint = field.getAttribute('aria-describedby');
  return {name: field.name, wraps: !label.htmlFor, label: box(text), field: box(field),
          hint: hint ? box(document.getElementById(hint)) : null,
          line: parseFloat(getComputedStyle(text).lineHeight)};
})"""
TOPICS = [
    ("vla", "Vision-Language-Action Models"),
    ("robotics", "Robotics (all of cs.RO)"),
    ("world-models", "World Models"),
    ("embodied", "Embodied AI and Navigation"),
    ("reasoning", "LLM Reasoning"),
    ("testing", "Software Testing"),
]


@pytest.fixture
def topics_file(tmp_path):
    path = tmp_path / "topics.toml"
    path.write_text(
        "".join(f'[[topic]]\nslug = "{slug}"\ntitle = "{title}"\nquery = "all:{slug}"\n\n' for slug, title in TOPICS)
    )
    return path


@pytest.fixture
def reader(app):
    engine = app.extensions["paperboy"].engine
    with engine.begin() as conn:
        rows = [
            ImportRow("a.reader.with.a.long.address@research-institute.example.org", ["vla", "world-models"], "active")
        ]
        import_rows(conn, rows, NOW, "cli")
        subscriber = subscriber_by_email(conn, rows[0].email)
    return preferences_url(app.extensions["paperboy"].config, subscriber.id).split("paperboy.test", 1)[1]


def assert_labels_sit_with_their_fields(boxes, width):
    assert boxes
    for box in boxes:
        label_left, label_top, label_right, label_bottom = box["label"]
        left, top, right, bottom = box["field"]
        assert right <= width, box  # on the screen
        if box["wraps"]:  # a checkbox: just left of its text, on the text's first line
            assert right <= label_left and label_left - right <= 16, box
            middle = (top + bottom) / 2
            assert label_top <= middle <= label_top + box["line"], box
        else:  # a field under its label, only its hint between them, aligned with it
            above = label_bottom
            if box["hint"]:
                assert label_bottom - 1 <= box["hint"][1] <= label_bottom + box["line"], box
                above = box["hint"][3]
            assert above - 1 <= top <= above + box["line"], box
            assert abs(left - label_left) <= 2, box


@pytest.mark.parametrize("width", WIDTHS)
def test_the_preferences_page_fits_and_keeps_labels_with_their_fields(browser, live_server, reader, width, tmp_path):
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.goto(live_server + reader)
        page.screenshot(path=str(tmp_path / f"preferences-{width}.png"), full_page=True)
        assert page.evaluate(OVERFLOW) == 0
        boxes = page.evaluate(LABELS)
        assert {box["name"] for box in boxes} >= {"topics", "digest_length", "per_topic", "keywords_include", "authors"}
        assert_labels_sit_with_their_fields(boxes, width)
        hints = page.locator(".field .hint").all_inner_texts()
        assert any("Separate them with ; or ," in hint for hint in hints)
        assert any("Separate names with ;" in hint for hint in hints)
    finally:
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_confirmation_mail_fits_a_phone(browser, config, width, tmp_path):
    topics = [type("Topic", (), {"title": title})() for _, title in TOPICS]
    link = config.base_url + "/confirm/" + "eyJzIjo0MiwidCI6WyJ2bGEiXX0" * 6 + ".Z2xhLnNpZ25hdHVyZQ"
    mail = confirmation_message(config, "reader@example.org", link, topics, NOW, "<confirm-1@paperboy.test>")
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.set_content(mail.get_body(("html",)).get_content())
        page.screenshot(path=str(tmp_path / f"confirmation-{width}.png"), full_page=True)
        assert page.evaluate(OVERFLOW) == 0
        assert page.evaluate("() => document.querySelector('meta[name=viewport]').content").startswith(
            "width=device-width"
        )
    finally:
        context.close()
