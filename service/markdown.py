"""A topic page as Markdown, in the seed page's format line for line (tests/data/seed-topic-page.md)."""

from __future__ import annotations

from service.listing import Listing, format_moment
from service.paper import Paper, paper_links
from service.text import markdown_text, markdown_url

SAMPLE_NOTE = (
    "> **Sample data:** these papers come from the sample bundled with paperboy, "
    "not from a fetch from arXiv."
)

EMPTY_SECTION = "_No papers in this section for this period._"


def topic_markdown(listing: Listing, home_url: str) -> str:
    """The Markdown export of `listing`; `home_url` is where "Back to Home" points."""
    lines = [f"# {markdown_text(listing.topic.title)}", ""]
    if listing.topic.description:
        lines += [markdown_text(listing.topic.description), ""]
    if listing.sample:
        lines += [SAMPLE_NOTE, ""]
    lines += [
        f"**Last updated:** {format_moment(listing.last_updated)}",
        "",
        f"**Papers found:** {len(listing.papers)}",
        "",
        f"[Back to Home]({markdown_url(home_url)})",
        "",
        "---",
        "",
    ]
    for name, papers in listing.sections():
        lines += [f"## {name}", ""]
        if not papers:
            lines += [EMPTY_SECTION, "", "---", ""]
        for paper in papers:
            lines += paper_markdown(paper)
    return "\n".join(lines)


def paper_markdown(paper: Paper) -> list[str]:
    """One paper's lines, ending with the `---` separator and a blank line."""
    categories = ", ".join(markdown_text(c) for c in paper.categories)
    return [
        f"### [{markdown_text(paper.title)}]({markdown_url(paper.abs_url)})",
        "",
        f"**Authors:** {markdown_text(paper.author_line)}",
        "",
        f"**Published:** {paper.published:%Y-%m-%d} | **Categories:** {categories}",
        "",
        "**Links:** " + " | ".join(f"[{label}]({markdown_url(url)})" for label, url in paper_links(paper)),
        "",
        "<details>",
        "<summary>Abstract</summary>",
        "",
        markdown_text(paper.short_abstract),
        "",
        "</details>",
        "",
        "---",
        "",
    ]
