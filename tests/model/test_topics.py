"""The topics file: the shipped topics.toml and every way a topics file can be wrong."""

import re
from pathlib import Path

import pytest

from service.model.topics import Topic, TopicsError, load_topics

SHIPPED = Path(__file__).resolve().parents[2] / "topics.toml"
FIELDS = {"ti", "abs", "au", "co", "jr", "cat", "rn", "id", "all"}


def test_the_shipped_topics_each_get_a_page_and_a_feed(config):
    """Whatever the shipped file holds, the app serves every topic in it, listed in file order."""
    from service.web import create_app

    topics = load_topics(SHIPPED)
    assert len({topic.slug for topic in topics}) == len(topics) >= 1
    app = create_app(config.with_overrides(topics_file=SHIPPED))
    try:
        client = app.test_client()
        home = client.get("/").get_data(as_text=True)
        positions = [home.index(f'href="/topics/{topic.slug}/"') for topic in topics]
        assert positions == sorted(positions)
        for topic in topics:
            page = client.get(f"/topics/{topic.slug}/")
            assert page.status_code == 200 and topic.title in page.get_data(as_text=True)
            assert client.get(f"/topics/{topic.slug}/feed.atom").status_code == 200
    finally:
        app.extensions["paperboy"].close()


@pytest.mark.parametrize("topic", load_topics(SHIPPED), ids=lambda t: t.slug)
def test_it_ships_queries_in_arxiv_syntax(topic):
    query = topic.query
    assert query.count("(") == query.count(")") and query.count('"') % 2 == 0
    words = re.findall(r'[a-z]+:"[^"]*"|"[^"]*"|[()]|[^\s()]+', query)
    for word in words:
        if word in ("(", ")", "AND", "OR", "ANDNOT") or word.startswith('"'):
            continue
        field, colon, term = word.partition(":")
        assert colon and field in FIELDS and term, f"{word!r} is not field:term"
    assert not re.search(r"\b(and|or|not)\b", re.sub(r'"[^"]*"', "", query)), "operators are upper case"
    assert "submittedDate" not in query  # the fetch job adds the window


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "topics.toml"
    path.write_text(text)
    return path


GOOD = '[[topic]]\nslug = "vla"\ntitle = "VLA"\nquery = "ti:VLA"\n'


def test_it_reads_a_topic_with_defaults(tmp_path):
    (topic,) = load_topics(write(tmp_path, GOOD))
    assert topic == Topic(slug="vla", title="VLA", description="", query="ti:VLA", categories=(), exemplars=())
    assert topic.accepts(["astro-ph"])


def test_it_reads_exemplars_as_bare_arxiv_ids(tmp_path):
    text = GOOD + 'exemplars = ["2602.03310", "2602.02459v2", "https://arxiv.org/abs/cs/0503050v1"]\n'
    (topic,) = load_topics(write(tmp_path, text))
    assert topic.exemplars == ("2602.03310", "2602.02459", "cs/0503050")


def test_it_filters_by_categories(tmp_path):
    (topic,) = load_topics(write(tmp_path, GOOD + 'categories = ["cs.RO", "cs.AI"]\n'))
    assert topic.accepts(["cs.LG", "cs.AI"]) and not topic.accepts(["astro-ph.IM"])


@pytest.mark.parametrize(
    "text, message",
    [
        ("slug = \n", "is not valid TOML"),
        ("title = 'no topics'\n", "has no [[topic]] tables"),
        ('[[topic]]\nslug = "vla"\ntitle = "VLA"\n', "'query' is missing or empty"),
        ('[[topic]]\nslug = "VLA!"\ntitle = "VLA"\nquery = "ti:VLA"\n', "must be lowercase letters, digits and dashes"),
        (GOOD + GOOD, "slug 'vla' appears twice"),
        (GOOD + 'categories = "cs.RO"\n', "'categories' must be a list of strings"),
        (GOOD + 'exemplars = "2602.03310"\n', "'exemplars' must be a list of arXiv ids as strings"),
        (GOOD + "exemplars = [2602.03310]\n", "'exemplars' must be a list of arXiv ids as strings"),
        (GOOD + 'exemplars = ["RDT2"]\n', "exemplar 'RDT2' is not an arXiv id (like 2602.03310 or cs/0503050)"),
        (GOOD + 'exemplars = [""]\n', "exemplar '' is not an arXiv id"),
        (GOOD + 'exemplars = ["2602.03310", "2602.03310v2"]\n', "exemplar '2602.03310' appears twice"),
        (
            GOOD + "exemplars = [" + ", ".join(f'"2602.0{n:04d}"' for n in range(11)) + "]\n",
            "'exemplars' lists 11 papers; at most 10",
        ),
    ],
)
def test_it_refuses_a_malformed_file_in_one_line(tmp_path, text, message):
    with pytest.raises(TopicsError) as error:
        load_topics(write(tmp_path, text))
    assert message in str(error.value) and "\n" not in str(error.value)
    assert str(error.value).startswith("topics: ")


def test_it_refuses_a_missing_or_unreadable_file(tmp_path):
    with pytest.raises(TopicsError, match="topics: no such file .*PAPERBOY_TOPICS_FILE"):
        load_topics(tmp_path / "missing.toml")
    with pytest.raises(TopicsError, match="topics: cannot read"):
        load_topics(tmp_path)
    (tmp_path / "latin1.toml").write_bytes(b'[[topic]]\ntitle = "Caf\xe9"\n')
    with pytest.raises(TopicsError, match="topics: cannot read"):
        load_topics(tmp_path / "latin1.toml")
