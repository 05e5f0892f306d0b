"""A letter's frame is made by MJML once per shape (how many topics, which retired), with the
subject, the preview and the topics' titles filled in after: it must read as the frame MJML makes
for the topic set itself, titles that need escaping and non-ASCII ones included."""

from __future__ import annotations

import lxml.html
import minify_html
from mjml import mjml_to_html

from service.digest.letter import MINIFY, SLOTS, letter_writer
from service.digest.queue import queue_digest
from service.templating import mail_templates
from tests.conftest import NOW
from tests.support.digest_data import WEEK, load_week, runtime_for

TOPICS = """
[[topic]]
slug = "vla"
title = "Robots & <Arms> l'été"
query = 'ti:VLA'

[[topic]]
slug = "testing"
title = "Testing — naïve Bayes 🤖"
query = 'all:testing'

[[topic]]
slug = "plain"
title = "Plain"
query = 'all:plain'

[[topic]]
slug = "quoted"
title = 'The "quoted" topic'
query = 'all:quoted'
"""


def _mjml_frame(writer, topic_set) -> str:
    """The frame as MJML makes it for the topic set, with the real titles in the template."""
    chosen = [t for t in writer.topics if t.slug in topic_set]
    frame = writer.frame(topic_set)
    titles = [t.title for t in chosen]
    preview = "New papers this week in " + ", ".join(titles)
    context = writer._context(frame.subject, preview, titles, ())
    html = minify_html.minify(
        mjml_to_html(mail_templates.get_template("email/digest.mjml.j2").render(context)).html, **MINIFY
    )
    for slot in SLOTS:
        html = html.replace(f"href={slot}>", f'href="{slot}">')
    return html


def _writer(config, tmp_path):
    topics_file = tmp_path / "topics.toml"
    topics_file.write_text(TOPICS)
    runtime = runtime_for(config.with_overrides(topics_file=topics_file))
    with runtime.engine.begin() as conn:
        load_week(conn)
    digest = queue_digest(runtime, WEEK, NOW).digest
    with runtime.engine.connect() as conn:
        return letter_writer(conn, runtime.config, digest, runtime.topics)


def _shown(html: str) -> list[tuple[str, dict, str]]:
    """Every element with its attributes and own text, as a browser reads them (entities decoded)."""
    return [(e.tag, dict(e.attrib), e.text or "") for e in lxml.html.fromstring(html).iter()]


def test_a_frame_made_from_its_shape_is_the_frame_mjml_makes(config, tmp_path):
    writer = _writer(config, tmp_path)

    for topic_set in (("vla",), ("testing",), ("plain", "vla"), ("plain", "testing", "vla")):
        made = "".join(writer.frame(topic_set).html)
        assert _shown(made) == _shown(_mjml_frame(writer, topic_set)), topic_set
        for topic in writer.frame(topic_set).topics:
            assert topic.title in lxml.html.fromstring(made).text_content()

    # One MJML run for each size of topic set, not one for each set.
    assert sorted(count for count, _ in writer.shapes) == [1, 2, 3]


def test_a_title_with_quotes_stays_whole_in_the_frames_attributes(config, tmp_path):
    """MJML copies the subject into the body's aria-label without escaping a double quote."""
    writer = _writer(config, tmp_path)

    frame = writer.frame(("quoted",))
    page = lxml.html.fromstring("".join(frame.html))

    assert frame.subject == 'paperboy 2026-W05: The "quoted" topic'
    assert page.find(".//title").text.strip() == frame.subject
    assert [e.get("aria-label") for e in page.iter() if e.get("aria-label")] == [frame.subject]
    assert 'The "quoted" topic' in page.text_content()
