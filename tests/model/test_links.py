"""Code and project-page links, from hand-written cases and from the real arXiv responses (among
them papers of 2026 whose links the first version missed or mangled)."""

import pytest

from service.arxiv.client import parse_feed
from service.model.links import find_links, unwrap
from tests.conftest import data_file
from tests.support.arxiv_replay import CS_RO_2025, HUNDRED

CASES = [
    # (text, code URLs, project URLs)
    ("Code: https://github.com/a/b.", ["https://github.com/a/b"], []),
    ("github.com/a/b)", ["https://github.com/a/b"], []),
    ("Our code (https://github.com/a/b) is public.", ["https://github.com/a/b"], []),
    (
        "(see gitlab.com/group/project, codeberg.org/x/y; bitbucket.org/team/repo)",
        ["https://gitlab.com/group/project", "https://codeberg.org/x/y", "https://bitbucket.org/team/repo"],
        [],
    ),
    ("https://huggingface.co/datasets/x/y", ["https://huggingface.co/datasets/x/y"], []),
    ("Weights: https://huggingface.co/org/model!", ["https://huggingface.co/org/model"], []),
    ("Demo on huggingface.co/spaces/a", [], []),
    ("See https://huggingface.co/papers/2501.01234", [], []),
    ("Project page: https://x.org/p", [], ["https://x.org/p"]),
    ("Project website at https://x.org/p/index.html.", [], ["https://x.org/p/index.html"]),
    ("Homepage: www.example.com/lab;", [], ["https://www.example.com/lab"]),
    ("Project page: example.org.", [], ["https://example.org"]),
    ("https://foo.github.\n  io/bar", [], ["https://foo.github.io/bar"]),
    ("Code at https://github.com/\n  owner/repo, data too", ["https://github.com/owner/repo"], []),
    ("More results at rdd-neurips.github.io.", [], ["https://rdd-neurips.github.io"]),
    ("Available on github.com.", [], []),
    ("We use GitHub (github.com) issues.", [], []),
    ("github.com/torvalds", [], []),
    ("Write to first.last@github.com or x@lab.org", [], []),
    ("Accepted at ICST 2022 https://icst2022.vrain.upv.es/", [], []),
    ("Videos: https://youtu.be/edgCNbGSGEY", [], []),
    ("Code: github.com/a/b.\nWe thank github.com/a/b/ again", ["https://github.com/a/b"], []),
    ("", [], []),
]


@pytest.mark.parametrize("text, code, project", CASES, ids=[repr(c[0])[:40] for c in CASES])
def test_it_finds_links_in_hand_written_text(text, code, project):
    assert find_links(text) == (code, project)


def test_it_searches_the_comment_then_the_abstract():
    code, project = find_links("Project page: https://x.org/p", "Code: https://github.com/a/b")
    assert code == ["https://github.com/a/b"] and project == ["https://x.org/p"]


def test_it_leaves_prose_line_breaks_alone():
    assert unwrap("ends with a/b.\nNext sentence") == "ends with a/b.\nNext sentence"
    assert unwrap("a well-\nknown fact") == "a well-\nknown fact"


LINKS_2026 = "api2026_corpus_links-in-abstracts.xml"
FIXTURE_LINKS = [
    # (file, arXiv id, code URLs, project URLs): every paper in the fixtures with a link.
    (CS_RO_2025, "2510.14968", [], ["https://rdd-neurips.github.io"]),
    # TeX escapes an underscore in the URL: "Persona\\_Paradox".
    (LINKS_2026, "2601.05376", ["https://github.com/rsinghlab/Persona_Paradox"], []),
    # A Hugging Face collection, and an owner's page holding the releases.
    (LINKS_2026, "2601.06395", ["https://huggingface.co/collections/McGill-NLP/afriquellm"], []),
    (LINKS_2026, "2602.02043", ["https://huggingface.co/AutoComp"], []),
    # "at:https://..." and "Project page:https://...": no space after the colon.
    (LINKS_2026, "2601.09988", [], ["https://umi-ft.github.io/"]),
    (LINKS_2026, "2602.08392", [], ["https://bimanibench.github.io/"]),
    # "link-https: //github.com/...": a space inside the scheme.
    (LINKS_2026, "2601.10315", ["https://github.com/naturenurtureelite/ADVOSYNTH-500"], []),
    # Anonymised repositories for review, with and without a scheme; GitCode.
    (LINKS_2026, "2601.14111", ["https://anonymous.4open.science/r/PMCE-275D"], []),
    (LINKS_2026, "2602.00175", ["https://anonymous.4open.science/r/IVO/"], []),
    (LINKS_2026, "2601.13243", ["https://gitcode.com/HIT1920/OpenLLMBench"], []),
    # An HTML anchor in the comment: <a href="...">Project Page</a>.
    (LINKS_2026, "2602.03367", [], ["https://sgvr.kaist.ac.kr/~msyoon/papers/IROS24/"]),
    # "Project page: \\url{...}".
    (LINKS_2026, "2602.09022", [], ["https://3d-models.hunyuan.tencent.com/world/"]),
    # Code, data or a demo released on the authors' own site.
    (LINKS_2026, "2601.15541", [], ["https://sites.google.com/view/compliantvla"]),
    (LINKS_2026, "2602.11081", [], ["https://steuerllm.i5.ai.fau.de"]),
    (LINKS_2026, "2601.10512", [], ["https://iv.ee.hm.edu/satmap/"]),
    (LINKS_2026, "2601.15129", [], ["https://imaging.rsna.org"]),
    (HUNDRED, "2507.10541", [], ["https://opendatalab.github.io/REST"]),
    (HUNDRED, "1706.00679", ["https://github.com/ydecastro/super-resolution-testing"], []),
]


@pytest.mark.parametrize("name, paper_id, code, project", FIXTURE_LINKS)
def test_it_finds_links_in_real_responses(name, paper_id, code, project):
    paper = next(p for p in parse_feed(data_file(name)).papers if p.id == paper_id)
    assert (paper.code_urls, paper.project_urls) == (code, project)


@pytest.mark.parametrize("name", [CS_RO_2025, HUNDRED, LINKS_2026])
def test_it_finds_no_other_links_in_real_responses(name):
    # LINKS_2026 also holds papers whose text names no page of theirs: a DOI, a video, a
    # conference site, "GitHub repositories", a dataset called LandCover.ai.
    expected = {paper_id for file, paper_id, _, _ in FIXTURE_LINKS if file == name}
    with_links = {p.id for p in parse_feed(data_file(name)).papers if p.has_links}
    assert with_links == expected
