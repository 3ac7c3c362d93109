"""Job postings from JSON Lines (EMSCAD layout), one line at a time."""

import datetime
import json
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
from leadflow.ingest.text import html_to_text, normalize_whitespace, replace_surrogates

KIND = "job_posting"
# In the order they are read: who the employer is, what the job is, what it asks, what it gives.
TEXT_FIELDS = ("company_profile", "description", "requirements", "benefits")
BODY_FIELDS = ("company_profile", "description", "requirements")
STRING_FIELDS = ("department", "salary_range", "employment_type", "required_education")
FLAG_FIELDS = ("telecommuting", "has_company_logo", "has_questions")

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
    label = label or str(path)
    with path.open("rb") as f:
        for n, raw in enumerate(f):
            if not raw.strip():
                continue
            position = f"{label}#{n}"
            try:
                yield _to_signal(raw, source, position, import_date, max_chars)
            except _Reject as exc:
                excerpt = make_excerpt(raw)
                yield Rejection(source=source, kind=KIND, position=position, reason=str(exc), excerpt=excerpt)


def _to_signal(raw: bytes, source: str, position: str, import_date: datetime.date, max_chars: int) -> Signal:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Reject(f"undecodable: invalid UTF-8 at byte {exc.start}") from None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _Reject(f"bad_json: {exc.msg} at column {exc.colno}") from None
    if not isinstance(record, dict):
        raise _Reject(f"not_object: line holds a JSON {type(record).__name__}")

    job_id = _scalar_text(record, "job_id").strip()
    title = normalize_whitespace(_scalar_text(record, "title"))
    for name, value in (("job_id", job_id), ("title", title)):
        if not value:
            raise _Reject(f"missing_field: {name} is missing or empty")
    sections = {name: _MASK.sub(r"[\1]", html_to_text(_scalar_text(record, name))) for name in TEXT_FIELDS}
    if not any(sections[name] for name in BODY_FIELDS):
        raise _Reject("empty_body: no company_profile, description or requirements text")
    text = "\n\n".join([title, *(sections[name] for name in TEXT_FIELDS if sections[name])])
    if len(text) > max_chars:
        raise _Reject(f"oversize: {len(text)} chars > {max_chars}")

    attributes: dict[str, Any] = {name: _scalar_text(record, name).strip() or None for name in STRING_FIELDS}
    attributes |= {name: _flag(record.get(name)) for name in FLAG_FIELDS}
    return Signal(
        signal_id=make_signal_id(source, job_id, position),
        source=source,
        kind=KIND,
        position=position,
        external_id=job_id,
        signal_date=import_date,
        title=title,
        company="",
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
        raise _Reject(f"bad_field: {name} is a JSON {type(value).__name__}, expected text")
    return replace_surrogates(str(value))


def _flag(value: Any) -> bool | None:
    """EMSCAD writes flags as "0"/"1"; anything else is unknown (True == 1, so JSON booleans pass)."""
    if value in ("1", 1):
        return True
    if value in ("0", 0):
        return False
    return None
