"""Subscriber lists as CSV, shared by the admin pages and `paperboy subscribers import|export`.

Columns: email (required), topics (slugs separated by ";" or spaces), status (default active), and
the optional digest preferences digest_length, keywords_include, keywords_exclude, authors and
suggestions (yes or no: "You might also like"; a file with any of them sets them all, a missing
one to its default; a file without them leaves stored preferences alone).
Files are read as UTF-8 (a BOM is dropped); a file that is not UTF-8 is read as Windows-1252,
which covers Latin-1 spreadsheets; anything else is refused. Nothing is written unless every
row is valid. Cells that a spreadsheet would run as a formula get a leading ' on export, and
that quote is taken off again on import, so an export reads back identically.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TextIO

from service.errors import PaperboyError
from service.model.states import SETTABLE, SubscriberStatus
from service.store.subscribers.imports import ImportRow
from subscribers.addresses import AddressError, normalize_address
from subscribers.preferences import PreferenceError, joined, parse_preferences

PREFERENCE_COLUMNS = ("digest_length", "keywords_include", "keywords_exclude", "authors", "suggestions")
YES, NO = ("", "yes", "true", "1", "on"), ("no", "false", "0", "off")
COLUMNS = ("email", "topics", "status", *PREFERENCE_COLUMNS)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Errors shown per file; the count of the rest is still reported.
MAX_ERRORS = 100
MAX_CELL = 10_000


class CsvError(PaperboyError):
    """The file as a whole cannot be read (encoding, header); the message says why in one line."""


@dataclass
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ParsedCsv:
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    encoding: str = "utf-8"

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def add_error(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(line, message))


def decode(data: bytes) -> tuple[str, str]:
    """The text of an uploaded file and the encoding it was read with; CsvError if it is not text."""
    if b"\x00" in data:
        raise CsvError("csv: the file contains NUL bytes; it is not a CSV text file")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError as error:
        raise CsvError(
            f"csv: the file is neither UTF-8 nor Windows-1252 text (byte {error.start + 1}); save it as UTF-8"
        ) from None


def _unquote(cell: str) -> str:
    """Take off the quote that export put before a formula-like cell."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in (*FORMULA_STARTS, "'"):
        return cell[1:]
    return cell


def neutralise(cell: str) -> str:
    """A cell that spreadsheets will show as text, never run as a formula."""
    if cell.startswith((*FORMULA_STARTS, "'")):
        return "'" + cell
    return cell


def parse(data: bytes, topic_slugs: Iterable[str]) -> ParsedCsv:
    """Every row of the file checked; rows are only usable when `.ok`. Raises CsvError for file-level faults."""
    text, encoding = decode(data)
    known_topics = set(topic_slugs)
    result = ParsedCsv(encoding=encoding)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise CsvError("csv: the file is empty; expected a header line: email,topics,status")
        names = [name.strip().lower() for name in header]
        if "email" not in names:
            raise CsvError(f"csv: no 'email' column in the header {header[:5]!r}; expected email,topics,status")
        unknown = [name for name in names if name not in COLUMNS]
        if unknown:
            raise CsvError(f"csv: unknown column {unknown[0][:50]!r}; the columns are {', '.join(COLUMNS)}")
        if len(set(names)) != len(names):
            raise CsvError("csv: a column appears twice in the header")
        position = {name: names.index(name) for name in names}
        seen: dict[str, int] = {}
        for cells in reader:
            line = reader.line_num
            if not cells or all(not cell.strip() for cell in cells):
                continue
            row = _row(cells, position, known_topics, line, result)
            if row is None:
                continue
            if row.email in seen:
                result.add_error(line, f"{row.email} appears twice (first on line {seen[row.email]})")
                continue
            seen[row.email] = line
            result.rows.append(row)
    except csv.Error as error:
        raise CsvError(f"csv: line {reader.line_num}: {error}") from None
    return result


def _row(
    cells: list[str], position: dict[str, int], known_topics: set[str], line: int, result: ParsedCsv
) -> ImportRow | None:
    if len(cells) > len(position):
        result.add_error(line, f"{len(cells)} cells, but the header has {len(position)} columns")
        return None
    values = {name: _unquote(cells[index].strip()) if index < len(cells) else "" for name, index in position.items()}
    if any(len(value) > MAX_CELL for value in values.values()):
        result.add_error(line, f"a cell is longer than {MAX_CELL} characters")
        return None
    try:
        email = normalize_address(values["email"])
    except AddressError as error:
        result.add_error(line, f"{values['email'][:80]!r}: {error}")
        return None
    topics = sorted(set(values.get("topics", "").replace(";", " ").split()))
    unknown = [topic for topic in topics if topic not in known_topics]
    if unknown:
        result.add_error(line, f"unknown topic {unknown[0][:80]!r}")
        return None
    status = values.get("status", "").lower() or SubscriberStatus.ACTIVE
    if status not in SETTABLE:
        result.add_error(line, f"status {status[:40]!r} is not one of {', '.join(SETTABLE)}")
        return None
    preferences = None
    if any(name in position for name in PREFERENCE_COLUMNS):
        try:
            preferences = parse_preferences(*(values.get(name, "") for name in PREFERENCE_COLUMNS[:4]))
        except PreferenceError as error:
            result.add_error(line, str(error))
            return None
        suggestions = values.get("suggestions", "").lower()
        if suggestions not in YES + NO:
            result.add_error(line, f"suggestions {suggestions[:40]!r}: use yes or no")
            return None
        preferences = replace(preferences, suggestions=suggestions in YES)
    return ImportRow(email, topics, status, preferences)


def write(rows: Iterable[ImportRow], out: TextIO) -> int:
    """Write the header and `rows` as CSV; return how many rows were written."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    count = 0
    for row in rows:
        p = row.preferences
        preferences = (
            [
                p.length,
                joined(p.keywords_in),
                joined(p.keywords_out),
                joined(p.authors),
                "yes" if p.suggestions else "no",
            ]
            if p
            else [""] * 4 + ["yes"]
        )
        writer.writerow([neutralise(cell) for cell in (row.email, " ".join(row.topics), row.status, *preferences)])
        count += 1
    return count
