"""Accounts from CRM/CSV exports (CrunchBase layout), one row at a time, repairing Excel damage.

A spreadsheet round trip leaves error tokens (`#NAME?` when a name starts with `=` or `-`),
`#####` where a number was too wide for its column, dates where numbers were, and long numbers
in scientific notation (`1.23457E+17`: the digits past the mantissa are gone). A cell can also
hold a formula (`=cmd|' /C calc'!A0`) that a spreadsheet would run. In a field that identifies
the account that row cannot be trusted and is rejected; in any other field the value is dropped
(None) and the column listed in `attributes["repaired"]` (a formula also in `"formula"`). An
amount in scientific notation is kept, approximate, its column listed in `"approximate"`.

The export may use `;`, tab or `|` instead of `,` (the header's `name` column tells which),
CR line ends, a BOM, UTF-16, or a charset other than UTF-8 (read through the fallback chain,
`attributes["charset_repair"]` says how). A stray quote opening a field does not swallow the
rows after it: its row is a `bad_row` and the next lines are read as rows again.
"""

import csv
import datetime
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from leadflow.ingest.charsets import UTF8, decode_bytes
from leadflow.ingest.lines import iter_lines
from leadflow.ingest.records import (
    DEFAULT_MAX_CHARS,
    Reason,
    Rejection,
    Signal,
    make_content_hash,
    make_excerpt,
    make_signal_id,
)
from leadflow.ingest.spreadsheet import is_error_token, is_formula, is_scientific
from leadflow.ingest.text import clean_text, normalize_whitespace, printable_name

KIND = "account"
REQUIRED_COLUMNS = ("name", "permalink")  # permalink only when the export has that column
INTEGER_COLUMNS = frozenset({"funding_total_usd", "funding_rounds", "founded_year"})
AMOUNT_COLUMNS = frozenset({"funding_total_usd"})
YEAR_COLUMNS = frozenset({"founded_year"})
DATE_COLUMNS = frozenset({"founded_at", "first_funding_at", "last_funding_at", "last_milestone_at"})
DELIMITERS = (",", ";", "\t", "|")

_ID_COLUMN = re.compile(r"(?:^|_)(?:id|uuid|permalink)$")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_YEAR = re.compile(r"\d{4}(?:\.0*)?")  # "2012", and "2012.0" as pandas writes it


class _Reject(Exception):
    """Carries a rejection reason out of the row checks."""


class _Lines:
    """The decoded lines csv.reader pulls, remembering those of the current record (with their
    raw bytes and charset repairs) and taking lines back to be read again."""

    def __init__(self, path: Path) -> None:
        self._raw = iter_lines(path)
        self._back: list[bytes] = []
        self.used: list[bytes] = []
        self.repairs: list[str] = []
        self.undecodable = False

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        raw = self._back.pop() if self._back else next(self._raw)
        self.used.append(raw)
        decoded = decode_bytes(raw, UTF8)
        self.undecodable = self.undecodable or decoded.undecodable
        if decoded.repair and decoded.repair not in self.repairs:
            self.repairs.append(decoded.repair)
        return decoded.text + "\n"

    def start_record(self) -> None:
        self.used, self.repairs, self.undecodable = [], [], False

    def read_again(self, lines: list[bytes]) -> None:
        self._back.extend(reversed(lines))

    def excerpt(self) -> str:
        return make_excerpt(b"\n".join(self.used))


def parse_accounts_csv(
    path: Path,
    *,
    source: str,
    import_date: datetime.date,
    max_chars: int = DEFAULT_MAX_CHARS,
    label: str | None = None,
) -> Iterator[Signal | Rejection]:
    """Signals from a CSV with a header row; positions are `<label>#<data row index>`.

    An export is a snapshot, so every account is dated by `import_date`. Blank lines are not
    records. Without a `name` column in the header (in any of DELIMITERS) the file is not an
    account export: each row is rejected as `bad_header`.
    """
    label = label or printable_name(str(path))
    lines = _Lines(path)
    header_line = next((line for line in lines if line.strip()), None)
    if header_line is None:
        return
    delimiter, header = _dialect(header_line)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)  # strict: an unclosed quote is an error
    n = 0
    while True:
        lines.start_record()
        position = f"{label}#{n}"
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field over csv.field_size_limit(); reading goes on after it
            row = None
            reason = f"{Reason.BAD_ROW}: {exc}"
        if row == [] or row == [""]:
            continue
        n += 1
        if len(lines.used) > 1 and _is_whole_row(lines.used[1], delimiter, len(header)):
            # A quote opened a field and never closed: the lines after its row are rows.
            reason = f"{Reason.BAD_ROW}: a quote opens a field and is not closed on its line"
            excerpt = make_excerpt(lines.used[0])
            yield Rejection(source=source, kind=KIND, position=position, reason=reason, excerpt=excerpt)
            lines.read_again(lines.used[1:])
            continue
        try:
            if row is None:
                raise _Reject(reason)
            if "name" not in header:
                raise _Reject(f"{Reason.BAD_HEADER}: no 'name' column (columns: {', '.join(header)[:200]})")
            if lines.undecodable:
                raise _Reject(f"{Reason.UNDECODABLE}: not UTF-8, and no fallback charset reads it")
            yield _to_signal(header, row, lines.repairs, source, position, import_date, max_chars)
        except _Reject as exc:
            yield Rejection(source=source, kind=KIND, position=position, reason=str(exc), excerpt=lines.excerpt())


def _dialect(header_line: str) -> tuple[str, list[str]]:
    """The delimiter whose split of the header has a `name` column (`,` when none has), and
    the column names, trimmed and lowercased."""
    for delimiter in DELIMITERS:
        header = _columns(header_line, delimiter)
        if "name" in header:
            return delimiter, header
    return ",", _columns(header_line, ",")


def _columns(line: str, delimiter: str) -> list[str]:
    row = next(csv.reader([line], delimiter=delimiter), [])
    return [clean_text(column).strip().lower() for column in row]


def _is_whole_row(raw: bytes, delimiter: str, width: int) -> bool:
    """True when a line holds a complete row of the export on its own: closed quotes, and as
    many fields as the header."""
    line = decode_bytes(raw, UTF8).text
    if line.count('"') % 2:
        return False
    try:
        rows = list(csv.reader([line + "\n"], delimiter=delimiter, strict=True))
    except csv.Error:
        return False
    return len(rows) == 1 and len(rows[0]) == width


def _to_signal(
    header: list[str],
    row: list[str],
    repairs: list[str],
    source: str,
    position: str,
    import_date: datetime.date,
    max_chars: int,
) -> Signal:
    if len(row) != len(header):
        raise _Reject(f"{Reason.BAD_ROW}: {len(row)} fields, header has {len(header)}")
    record = {column: clean_text(value).strip() for column, value in zip(header, row, strict=True)}

    for column in REQUIRED_COLUMNS:
        if column not in record:
            continue
        value = record[column]
        if is_error_token(value) or is_scientific(value):
            raise _Reject(f"{Reason.EXCEL_DAMAGE}: column {column} = {value[:20]}")
        if is_formula(value):
            raise _Reject(f"{Reason.FORMULA}: column {column} holds a spreadsheet formula")
        if not value:
            raise _Reject(f"{Reason.MISSING_FIELD}: {column} is empty")

    attributes: dict[str, Any] = {}
    repaired: list[str] = []
    formulas: list[str] = []
    approximate: list[str] = []
    for column, value in record.items():
        if column in REQUIRED_COLUMNS:
            continue
        clean = _clean_value(column, value)
        if clean is None and value:
            repaired.append(column)
            if is_formula(value):
                formulas.append(column)
        elif column in AMOUNT_COLUMNS and is_scientific(value):
            approximate.append(column)
        attributes[column] = clean
    attributes["repaired"] = repaired
    for key, columns in (("formula", formulas), ("approximate", approximate)):
        if columns:
            attributes[key] = columns
    if repairs:
        attributes["charset_repair"] = "; ".join(repairs)

    name = normalize_whitespace(record["name"])
    permalink = record.get("permalink", "")
    text = _describe(name, attributes)
    if len(text) > max_chars:
        raise _Reject(f"{Reason.OVERSIZE}: {len(text)} chars > {max_chars}")
    return Signal(
        signal_id=make_signal_id(source, permalink, position),
        source=source,
        kind=KIND,
        position=position,
        external_id=permalink,
        signal_date=import_date,
        title=name,
        company=name,
        text=text,
        content_hash=make_content_hash(name, text),
        attributes=attributes,
    )


def _clean_value(column: str, value: str) -> Any:
    """The typed value of an optional field; None when empty or damaged."""
    if not value or is_error_token(value) or is_formula(value):
        return None
    if (column in YEAR_COLUMNS and not _YEAR.fullmatch(value)) or (_ID_COLUMN.search(column) and is_scientific(value)):
        return None  # "2.01E+03": a year or an id Excel rounded
    if column in INTEGER_COLUMNS:
        try:
            return int(float(value))  # "2012.0", "1.5E+07"
        except (ValueError, OverflowError):
            return None  # e.g. "6/5/53": Excel read the number as a date
    if column in DATE_COLUMNS and not _ISO_DATE.fullmatch(value):
        return None
    return value


def _describe(name: str, attributes: dict[str, Any]) -> str:
    """One sentence for the model: "<name>: <category> company in <city>, <country>; status ..."."""
    category = attributes.get("category_code")
    head = f"{name}: {category} company" if category else f"{name}: company"
    location = ", ".join(str(attributes[c]) for c in ("city", "country_code") if attributes.get(c))
    if location:
        head += f" in {location}"
    parts = [head]
    if attributes.get("status"):
        parts.append(f"status {attributes['status']}")
    if attributes.get("funding_total_usd") is not None:
        parts.append(f"funding {attributes['funding_total_usd']} USD")
    if attributes.get("founded_at"):
        parts.append(f"founded {attributes['founded_at']}")
    return "; ".join(parts)
