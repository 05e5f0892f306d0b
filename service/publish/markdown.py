"""A topic page as Markdown, in the seed page's format line for line (tests/data/seed-topic-page.md)."""

from __future__ import annotations

from service.model.paper import Paper, paper_links
from service.model.text import markdown_text, markdown_url
from service.publish.listing import Listing, format_moment

SAMPLE_NOTE = "> **Sample data:** these papers come from the sample bundled with paperboy, not from a fetch from arXiv."

EMPTY_SECTION = "_No papers in this section for this period._"


def topic_markdown(
    listing: Listing,
    home_url: str,
    nav: list[tuple[str, str]] | None = None,
    weeks: list[tuple[str, str]] | None = None,
    page_url=None,
) -> str:
    """The Markdown export of `listing`; `home_url` is where "Back to Home" points.

    `nav`: the links of that line instead (label, URL); `weeks`: week pages (label, URL),
    listed under "Earlier weeks" after the papers; `page_url(n)`: where page n of a listing
    of several pages is, for the "Pages" line under the papers."""
    title = markdown_text(listing.topic.title) + (f": {listing.week}" if listing.week else "")
    lines = [f"# {title}", ""]
    if listing.topic.description:
        lines += [markdown_text(listing.topic.description), ""]
    if listing.sample:
        lines += [SAMPLE_NOTE, ""]
    links = nav or [("Back to Home", home_url)]
    lines += [
        f"**Last updated:** {format_moment(listing.last_updated)}",
        "",
        f"**Papers found:** {listing.total}",
        "",
        " | ".join(f"[{markdown_text(label)}]({markdown_url(url)})" for label, url in links),
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
    if listing.pages > 1 and page_url is not None:
        start, end = listing.shown
        numbers = [
            str(n) if n == listing.page else f"[{n}]({markdown_url(page_url(n))})" for n in range(1, listing.pages + 1)
        ]
        lines += [f"**Papers {start + 1} to {end} of {listing.total}. Pages:** " + " | ".join(numbers), ""]
    if weeks:
        lines += ["## Earlier weeks", ""]
        lines += [f"- [{markdown_text(label)}]({markdown_url(url)})" for label, url in weeks]
        lines += [""]
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
