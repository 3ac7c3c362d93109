"""Accounts from CRM/CSV exports (CrunchBase layout), one row at a time, repairing Excel damage.

A spreadsheet round-trip leaves error tokens (`#NAME?` when a name starts with `=` or `-`),
`#####` where a number was too wide for its column, and dates where numbers were. In a field
that identifies the account that row cannot be trusted and is rejected; in any other field the
value is dropped (None) and the column listed in `attributes["repaired"]`.
"""

import csv
import datetime
import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from leadflow.ingest.records import (
    DEFAULT_MAX_CHARS,
    Rejection,
    Signal,
    make_content_hash,
    make_excerpt,
    make_signal_id,
)
from leadflow.ingest.text import normalize_whitespace, replace_surrogates

KIND = "account"
REQUIRED_COLUMNS = ("name", "permalink")  # permalink only when the export has that column
INTEGER_COLUMNS = frozenset({"funding_total_usd", "funding_rounds", "founded_year"})
DATE_COLUMNS = frozenset({"founded_at", "first_funding_at", "last_funding_at", "last_milestone_at"})

_EXCEL_DAMAGE = re.compile(r"#+|#NAME\?|#VALUE!|#REF!|#DIV/0!|#N/A|#NUM!|#NULL!")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes kept by errors="surrogateescape"


class _Reject(Exception):
    """Carries a rejection reason out of the row checks."""


def parse_accounts_csv(
    path: Path,
    *,
    source: str,
    import_date: datetime.date,
    max_chars: int = DEFAULT_MAX_CHARS,
    label: str | None = None,
) -> Iterator[Signal | Rejection]:
    """Signals from a CSV with a header row; positions are `<label>#<data row index>`.

    An export is a snapshot, so every account is dated by `import_date`.
    Raises ValueError when the header has no `name` column: that is the wrong file, not a bad row.
    """
    label = label or str(path)
    # surrogateescape keeps invalid bytes so one bad row is rejected instead of the whole file.
    with path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as f:
        reader = csv.reader(f)
        header = [replace_surrogates(column.strip()) for column in next(reader, [])]
        if not header:
            return
        if "name" not in header:
            raise ValueError(f"{label}: CSV header has no 'name' column (columns: {', '.join(header)[:200]})")
        for n in itertools.count():
            position = f"{label}#{n}"
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. a field over csv.field_size_limit(); reading goes on after it
                reason = f"bad_row: {exc}"
                yield Rejection(source=source, kind=KIND, position=position, reason=reason, excerpt="")
                continue
            try:
                yield _to_signal(header, row, source, position, import_date, max_chars)
            except _Reject as exc:
                excerpt = _excerpt(row)
                yield Rejection(source=source, kind=KIND, position=position, reason=str(exc), excerpt=excerpt)


def _to_signal(
    header: list[str], row: list[str], source: str, position: str, import_date: datetime.date, max_chars: int
) -> Signal:
    if len(row) != len(header):
        raise _Reject(f"bad_row: {len(row)} fields, header has {len(header)}")
    for column, value in zip(header, row, strict=True):
        if _UNDECODABLE.search(value):
            raise _Reject(f"undecodable: invalid UTF-8 in column {column}")
    record = {column: value.strip() for column, value in zip(header, row, strict=True)}

    for column in REQUIRED_COLUMNS:
        if column not in record:
            continue
        if _EXCEL_DAMAGE.fullmatch(record[column]):
            raise _Reject(f"excel_damage: column {column} = {record[column][:20]}")
        if not record[column]:
            raise _Reject(f"missing_field: {column} is empty")

    attributes: dict[str, Any] = {}
    repaired: list[str] = []
    for column, value in record.items():
        if column in REQUIRED_COLUMNS:
            continue
        clean = _clean_value(column, value)
        if clean is None and value:
            repaired.append(column)
        attributes[column] = clean
    attributes["repaired"] = repaired

    name = normalize_whitespace(record["name"])
    permalink = record.get("permalink", "")
    text = _describe(name, attributes)
    if len(text) > max_chars:
        raise _Reject(f"oversize: {len(text)} chars > {max_chars}")
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
    if not value or _EXCEL_DAMAGE.fullmatch(value):
        return None
    if column in INTEGER_COLUMNS:
        try:
            return int(float(value))  # "2012.0", "1.5E+07"
        except ValueError:
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


def _excerpt(row: list[str]) -> str:
    """The row as it read, with undecodable bytes shown as U+FFFD."""
    raw = ",".join(row).encode("utf-8", errors="surrogateescape")
    return make_excerpt(raw)
