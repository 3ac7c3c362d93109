"""The two things every parser yields: a normalized `Signal` or a quarantined `Rejection`."""

import datetime
import hashlib
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MAX_CHARS = 20_000
EXCERPT_CHARS = 200


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
    """Stable id: the same record in the same source gets the same id on every run."""
    key = f"{source}\x1f{external_id or position}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def make_content_hash(title: str, text: str) -> str:
    """Hash of title + text, case- and whitespace-insensitive, to spot reposted duplicates."""
    canonical = " ".join(f"{title}\n{text}".lower().split())
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def make_excerpt(raw: bytes) -> str:
    """The first characters of a raw record, safe to store whatever its encoding."""
    # 4 bytes per character at most in UTF-8, so this slice never cuts the excerpt short.
    return raw[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")[:EXCERPT_CHARS]
