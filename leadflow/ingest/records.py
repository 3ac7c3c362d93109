"""The two things every parser yields: a normalized `Signal` or a quarantined `Rejection`, and
the reason codes a Rejection can carry."""

import datetime
import enum
import hashlib
from dataclasses import dataclass, field
from typing import Any

from leadflow.ingest.text import clean_text

DEFAULT_MAX_CHARS = 20_000
EXCERPT_CHARS = 200


class Reason(enum.StrEnum):
    """Why a record was quarantined: the code a `Rejection.reason` starts with, "<code>: <detail>".

    Defined once here so the parsers, the assets and the tests name the same codes.
    """

    BAD_JSON = "bad_json"  # a JSONL line that is not JSON (or too deep, or a number too long)
    NOT_OBJECT = "not_object"  # a JSONL line holding a JSON array, string or number
    BAD_FIELD = "bad_field"  # a field of the wrong JSON type
    MISSING_FIELD = "missing_field"  # an identifying field missing or empty
    EMPTY_BODY = "empty_body"  # no text left once markup, signature and archived quotes are gone
    OVERSIZE = "oversize"  # over the size limit of its source (text, line or raw message)
    UNDECODABLE = "undecodable"  # bytes no charset of the fallback chain reads as text
    BAD_ROW = "bad_row"  # a CSV record with the wrong number of fields or an unbalanced quote
    BAD_HEADER = "bad_header"  # a CSV whose header has no `name` column: every row is refused
    EXCEL_DAMAGE = "excel_damage"  # an identifying CSV field an Excel round trip destroyed
    FORMULA = "formula"  # an identifying CSV field holding a spreadsheet formula
    MISSING_DATE = "missing_date"  # an email without a Date header
    BAD_DATE = "bad_date"  # an email Date that cannot be read
    IMPLAUSIBLE_DATE = "implausible_date"  # an email dated before mail or after its import
    TRUNCATED_HEADERS = "truncated_headers"  # an email that ends, or breaks, inside its headers
    MALFORMED = "malformed"  # an email whose headers the parser cannot read
    UNREADABLE = "unreadable"  # a file of a maildir (or an .eml path) that cannot be read
    SOURCE_ERROR = "source_error"  # a source that failed part-way: the rest of it is not read
    DATE_OUT_OF_RANGE = "date_out_of_range"  # a signal dated outside the partitions (raw_signals)
    DUPLICATE_SIGNAL_ID = "duplicate_signal_id"  # a signal id already read in the run (raw_signals)


def reason_code(reason: str) -> str:
    """The code of a "<code>: <detail>" reason."""
    return reason.partition(":")[0]


@dataclass(frozen=True, slots=True)
class Signal:
    """One normalized sales signal (job posting, email or account row) with its lineage."""

    signal_id: str
    source: str
    kind: str  # "job_posting" | "email" | "account"
    position: str
    external_id: str
    signal_date: datetime.date
    title: str
    company: str
    # Kept out of repr so a logged or failing Signal never shows an email body.
    text: str = field(repr=False)
    content_hash: str
    # A dict cannot be hashed; leaving it out of __hash__ keeps Signals usable in sets.
    attributes: dict[str, Any] = field(hash=False)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record that could not become a Signal, kept (not dropped) so nothing is silently lost.

    `excerpt` holds raw, possibly personal text: store it for inspection, never log it.
    """

    source: str
    kind: str
    position: str
    reason: str  # "<code>: <human detail>", e.g. "empty_body: no text after normalization"
    excerpt: str = field(repr=False)
    # The record's own date when it could be read, so a range backfill can show the rejects of
    # the records in its range; None for an undatable record (its import date places it).
    record_date: datetime.date | None = None


def make_signal_id(source: str, external_id: str, position: str) -> str:
    """Stable id: the same record in the same source gets the same id on every run.

    surrogatepass: a file name with a non-UTF-8 byte reaches here as a lone surrogate, which
    must give an id, not an exception.
    """
    key = f"{source}\x1f{external_id or position}"
    return hashlib.sha256(key.encode("utf-8", errors="surrogatepass")).hexdigest()[:20]


def make_content_hash(title: str, text: str) -> str:
    """Hash of title + text, case- and whitespace-insensitive, to spot reposted duplicates."""
    canonical = " ".join(f"{title}\n{text}".lower().split())
    return hashlib.sha256(canonical.encode("utf-8", errors="surrogatepass")).hexdigest()


def make_excerpt(raw: bytes) -> str:
    """The first characters of a raw record, safe to store and show whatever its encoding (no
    NUL, no terminal escapes)."""
    # 4 bytes per character at most in UTF-8, so this slice never cuts the excerpt short.
    return clean_text(raw[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace"))[:EXCERPT_CHARS]
