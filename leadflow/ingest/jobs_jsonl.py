"""Job postings from JSON Lines (EMSCAD layout), one line at a time.

Lines end at CR, LF or CRLF (`leadflow.ingest.lines`); a line that is not UTF-8 is read through
the charset fallback chain, its `charset_repair` recorded; a line too deep, with a number too
long for Python, or with NaN is `bad_json`, never an exception.
"""

import datetime
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from leadflow.ingest.charsets import UTF8, decode_bytes
from leadflow.ingest.lines import MAX_LINE_BYTES, iter_lines
from leadflow.ingest.records import (
    DEFAULT_MAX_CHARS,
    Reason,
    Rejection,
    Signal,
    make_content_hash,
    make_excerpt,
    make_signal_id,
)
from leadflow.ingest.text import clean_text, html_to_text, normalize_whitespace, printable_name

KIND = "job_posting"
# In the order they are read: who the employer is, what the job is, what it asks, what it gives.
TEXT_FIELDS = ("company_profile", "description", "requirements", "benefits")
BODY_FIELDS = ("company_profile", "description", "requirements")
STRING_FIELDS = ("department", "salary_range", "employment_type", "required_education")
FLAG_FIELDS = ("telecommuting", "has_company_logo", "has_questions")
COMPANY_FIELD = "company_name"  # the employer, where the export names it (LinkedIn's does; EMSCAD's does not)

# EMSCAD masks URLs, emails and phones as `#URL_<64 hex>#`: the hash means nothing to a reader
# or a model and costs ~20 tokens, so keep only what kind of thing was there.
_MASK = re.compile(r"#(URL|EMAIL|PHONE)_[0-9a-f]+#")


class _Reject(Exception):
    """Carries a rejection reason out of the field checks."""


def parse_jobs_jsonl(
    path: Path,
    *,
    source: str,
    import_date: datetime.date,
    max_chars: int = DEFAULT_MAX_CHARS,
    label: str | None = None,
) -> Iterator[Signal | Rejection]:
    """Signals from a JSONL file of postings; positions are `<label>#<line index>`.

    Postings carry no date, so they are dated by `import_date`. Blank lines are not records.
    """
    label = label or printable_name(str(path))
    for n, raw in enumerate(iter_lines(path, MAX_LINE_BYTES)):
        if not raw.strip():
            continue
        position = f"{label}#{n}"
        try:
            yield _to_signal(raw, source, position, import_date, max_chars)
        except _Reject as exc:
            excerpt = make_excerpt(raw)
            yield Rejection(source=source, kind=KIND, position=position, reason=str(exc), excerpt=excerpt)


def _to_signal(raw: bytes, source: str, position: str, import_date: datetime.date, max_chars: int) -> Signal:
    if len(raw) > MAX_LINE_BYTES:
        raise _Reject(f"{Reason.OVERSIZE}: line over {MAX_LINE_BYTES} bytes")
    # The decoding drops a BOM: one opens every file of a concatenation, not only the first line.
    decoded = decode_bytes(raw, UTF8)
    if decoded.undecodable:
        raise _Reject(f"{Reason.UNDECODABLE}: not UTF-8, and no fallback charset reads it")
    try:
        record = json.loads(decoded.text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise _Reject(f"{Reason.BAD_JSON}: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise _Reject(f"{Reason.BAD_JSON}: nested too deep to read") from None
    except ValueError as exc:  # an integer over sys.get_int_max_str_digits() digits, or NaN
        raise _Reject(f"{Reason.BAD_JSON}: {str(exc).partition(':')[0][:80]}") from None
    if not isinstance(record, dict):
        raise _Reject(f"{Reason.NOT_OBJECT}: line holds a JSON {type(record).__name__}")

    job_id = _scalar_text(record, "job_id").strip()
    title = normalize_whitespace(_scalar_text(record, "title"))
    for name, value in (("job_id", job_id), ("title", title)):
        if not value:
            raise _Reject(f"{Reason.MISSING_FIELD}: {name} is missing or empty")
    sections = {name: _MASK.sub(r"[\1]", html_to_text(_scalar_text(record, name))) for name in TEXT_FIELDS}
    if not any(sections[name] for name in BODY_FIELDS):
        raise _Reject(f"{Reason.EMPTY_BODY}: no company_profile, description or requirements text")
    text = "\n\n".join([title, *(sections[name] for name in TEXT_FIELDS if sections[name])])
    if len(text) > max_chars:
        raise _Reject(f"{Reason.OVERSIZE}: {len(text)} chars > {max_chars}")

    attributes: dict[str, Any] = {name: _scalar_text(record, name).strip() or None for name in STRING_FIELDS}
    attributes |= {name: _flag(record.get(name)) for name in FLAG_FIELDS}
    if decoded.repair:
        attributes["charset_repair"] = decoded.repair
    return Signal(
        signal_id=make_signal_id(source, job_id, position),
        source=source,
        kind=KIND,
        position=position,
        external_id=job_id,
        signal_date=import_date,
        title=title,
        company=normalize_whitespace(_scalar_text(record, COMPANY_FIELD)),
        text=text,
        content_hash=make_content_hash(title, text),
        attributes=attributes,
    )


def _scalar_text(record: dict[str, Any], name: str) -> str:
    """A field as text; null is empty, numbers are spelled out, lists and objects are refused."""
    value = record.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Reject(f"{Reason.BAD_FIELD}: {name} is a JSON {type(value).__name__}, expected text")
    return clean_text(str(value))


def _refuse_constant(name: str) -> float:
    """NaN and Infinity are not JSON (Python's reader takes them): refuse the line."""
    raise ValueError(f"{name} is not a JSON value")


def _flag(value: Any) -> bool | None:
    """EMSCAD writes flags as "0"/"1"; anything else is unknown (True == 1, so JSON booleans pass)."""
    if value in ("1", 1):
        return True
    if value in ("0", 0):
        return False
    return None
