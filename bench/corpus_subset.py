"""Copy chosen papers out of the shared arXiv corpus (../shared/fixtures/arxiv-corpus: real arXiv API
responses, one per week of 2026-W03..W07) into one gzipped arXiv API response, entries verbatim.

    .venv/bin/python bench/corpus_subset.py OUT.xml.gz --ids-from bench/relevance_labels.csv ...
    .venv/bin/python bench/corpus_subset.py OUT.xml.gz --ids 2602.03310,2601.09708

It builds bench/corpus_papers.xml.gz (every paper bench/relevance.py and bench/links.py label) and
the bundled sample (service/arxiv/sample_feeds/). The tests never read the corpus, only its copies."""

from __future__ import annotations

import argparse
import csv
import gzip
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "fixtures" / "arxiv-corpus"
ENTRY = re.compile(r"  <entry>\n.*?\n  </entry>\n", re.DOTALL)
ENTRY_ID = re.compile(r"<id>http://arxiv\.org/abs/([^<]+?)v\d+</id>")
COUNTS = re.compile(r"<opensearch:(itemsPerPage|totalResults)>\d+<")


def corpus_entries(corpus: Path) -> tuple[str, dict[str, str]]:
    """The first feed's header and every entry of the corpus feeds by versionless arXiv id."""
    files = sorted(corpus.glob("api_2026_corpus_2026-W*.xml"))
    if not files:
        sys.exit(f"bench/corpus_subset.py: no api_2026_corpus_*.xml in {corpus} (pass --corpus)")
    header, entries = "", {}
    for path in files:
        text = path.read_text(encoding="utf-8")
        header = header or text[: text.index("  <entry>")]
        for match in ENTRY.finditer(text):
            entries[ENTRY_ID.search(match.group(0))[1]] = match.group(0)
    return header, entries


def write_feed(out: Path, header: str, chosen: list[str]) -> None:
    """A gzipped response holding `chosen` (entries), same bytes for the same input."""
    count = str(len(chosen))
    header = COUNTS.sub(lambda m: f"<opensearch:{m[1]}>{count}<", header)
    header = re.sub(r"max_results=\d+", f"max_results={count}", header)
    body = (header + "".join(chosen) + "</feed>\n").encode("utf-8")
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as file:
        file.write(body)


def ids_in(csv_path: Path) -> list[str]:
    with csv_path.open(newline="", encoding="utf-8") as file:
        return [row["arxiv_id"] for row in csv.DictReader(file)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--ids", default="", help="comma-separated arXiv ids")
    parser.add_argument("--ids-from", type=Path, nargs="*", default=[], help="CSV files with an arxiv_id column")
    args = parser.parse_args()
    wanted = [i for i in args.ids.split(",") if i]
    for path in args.ids_from:
        wanted += ids_in(path)
    header, entries = corpus_entries(args.corpus)
    wanted = sorted(set(wanted), reverse=True)
    missing = [i for i in wanted if i not in entries]
    if missing:
        sys.exit(f"bench/corpus_subset.py: not in the corpus: {', '.join(missing[:5])}")
    write_feed(args.out, header, [entries[i] for i in wanted])
    print(f"{args.out}: {len(wanted)} papers, {args.out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
