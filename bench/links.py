"""Code and project-page links (service/model/links.py, find_links) against 200 real papers whose
abstract and comment were read by hand (bench/link_labels.csv) and 60 more held out from the fixes
(bench/link_labels_heldout.csv): precision and recall of the code URLs, of the project-page URLs
and of both kinds together, and each miss and each wrong find.

    .venv/bin/python bench/links.py

Before comparing, URLs lose their scheme, "www.", a trailing "/" or ".git", and the host's case."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from relevance_pool import LINK_LABELS, LINK_LABELS_HELD_OUT, load_link_labels, load_papers  # noqa: E402

from service.model.links import find_links  # noqa: E402


def key(url: str) -> str:
    rest = url.split("://", 1)[-1]
    host, _, path = rest.partition("/")
    host = host.lower().removeprefix("www.")
    path = path.rstrip("/").removesuffix(".git").rstrip("/")
    return f"{host}/{path}" if path else host


def score(found: int, right: int, truth: int) -> str:
    precision = right / found if found else 1.0
    recall = right / truth if truth else 1.0
    return f"{precision:.3f} ({right}/{found}) | {recall:.3f} ({right}/{truth})"


def main():
    papers = load_papers()
    for name, path in (("labelled set", LINK_LABELS), ("held-out set", LINK_LABELS_HELD_OUT)):
        print(f"\n{name} ({path.relative_to(ROOT)})")
        measure(papers, load_link_labels(path))


def measure(papers, labels):
    totals = {kind: [0, 0, 0] for kind in ("code", "project", "either kind")}
    errors = []
    for paper_id, (code, project) in sorted(labels.items()):
        paper = papers[paper_id]
        got_code, got_project = find_links(paper.comment, paper.abstract)
        pairs = {
            "code": ({key(u) for u in got_code}, {key(u) for u in code}),
            "project": ({key(u) for u in got_project}, {key(u) for u in project}),
        }
        pairs["either kind"] = (pairs["code"][0] | pairs["project"][0], pairs["code"][1] | pairs["project"][1])
        for kind, (got, truth) in pairs.items():
            totals[kind][0] += len(got)
            totals[kind][1] += len(got & truth)
            totals[kind][2] += len(truth)
        for kind in ("code", "project"):
            got, truth = pairs[kind]
            errors += [f"{paper_id} {kind}: missed {u}" for u in sorted(truth - got)]
            errors += [f"{paper_id} {kind}: wrong {u}" for u in sorted(got - truth)]
    with_links = sum(1 for code, project in labels.values() if code or project)
    print(f"{len(labels)} papers, {with_links} with a code or project link")
    print("| kind | precision (right/found) | recall (right/true) |")
    print("|---|---|---|")
    for kind, (found, right, truth) in totals.items():
        print(f"| {kind} | {score(found, right, truth)} |")
    print("\n".join(errors))


if __name__ == "__main__":
    main()
