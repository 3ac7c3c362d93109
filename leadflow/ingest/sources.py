"""Where signals come from: `resources/sources.yaml` declares sources, `detect_format` tells a
file's format (an import), `read_source` reads one, `read_source_safely` reads one without ever
raising, and `SourceCounts` tallies what it gave."""

import csv
import datetime
import itertools
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from leadflow.ingest.accounts_csv import KIND as ACCOUNT_KIND
from leadflow.ingest.accounts_csv import parse_accounts_csv
from leadflow.ingest.emails import KIND as EMAIL_KIND
from leadflow.ingest.emails import parse_eml, parse_maildir, parse_mbox
from leadflow.ingest.jobs_jsonl import KIND as JOB_KIND
from leadflow.ingest.jobs_jsonl import parse_jobs_jsonl
from leadflow.ingest.records import DEFAULT_MAX_CHARS, Reason, Rejection, Signal, reason_code
from leadflow.ingest.text import printable_name

# Each format and the kind of record it holds.
FORMAT_KINDS = {
    "jsonl_jobs": JOB_KIND,
    "mbox": EMAIL_KIND,
    "maildir": EMAIL_KIND,
    "eml": EMAIL_KIND,
    "csv_accounts": ACCOUNT_KIND,
}
FORMATS = tuple(FORMAT_KINDS)
_FIELDS = ("name", "format", "path", "enabled", "max_chars", "limit", "import_date")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class SourceConfigError(ValueError):
    """sources.yaml is not what `load_sources` expects; the message names the entry and field."""


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """One entry of sources.yaml."""

    name: str
    format: str  # one of FORMATS
    path: str  # relative to the sources file's folder (or absolute)
    enabled: bool = True
    # Longer normalized text: an email is cut to a head-and-tail window, other records are rejected as "oversize".
    max_chars: int = DEFAULT_MAX_CHARS
    limit: int | None = None  # read at most this many records (signals + rejections); None = all
    import_date: datetime.date | None = None  # date of undated records; None = the file's mtime date


def load_sources(path: str | Path) -> list[SourceSpec]:
    """All sources declared in a sources.yaml, disabled ones included, in file order."""
    path = Path(path)
    with path.open(encoding="utf-8") as f:
        try:
            document = yaml.safe_load(f)
        except (yaml.YAMLError, ValueError) as exc:  # ValueError: a date like 2026-13-01
            raise SourceConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("sources"), list):
        raise SourceConfigError(f"{path}: expected a top-level 'sources:' list")
    specs = [_parse_entry(entry, f"{path}: sources[{i}]") for i, entry in enumerate(document["sources"])]
    names = [spec.name for spec in specs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise SourceConfigError(f"{path}: duplicate source names: {', '.join(duplicates)}")
    return specs


def _parse_entry(entry: Any, where: str) -> SourceSpec:
    if not isinstance(entry, dict):
        raise SourceConfigError(f"{where}: expected a mapping with name, format and path")
    unknown = sorted(set(entry) - set(_FIELDS))
    if unknown:
        raise SourceConfigError(
            f"{where}: unknown field(s) {', '.join(map(str, unknown))}; allowed: {', '.join(_FIELDS)}"
        )
    for required in ("name", "format", "path"):
        if not isinstance(entry.get(required), str) or not entry[required].strip():
            raise SourceConfigError(f"{where}: missing or empty '{required}'")
    where = f"{where} ({entry['name']})"
    if entry["format"] not in FORMATS:
        raise SourceConfigError(f"{where}: unknown format {entry['format']!r}; expected one of {', '.join(FORMATS)}")
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise SourceConfigError(f"{where}: 'enabled' must be true or false")
    max_chars = entry.get("max_chars", DEFAULT_MAX_CHARS)
    limit = entry.get("limit")
    if not _is_positive_int(max_chars):
        raise SourceConfigError(f"{where}: 'max_chars' must be a positive integer")
    if limit is not None and not _is_positive_int(limit):
        raise SourceConfigError(f"{where}: 'limit' must be a positive integer or null")
    import_date = _import_date(entry.get("import_date"), where)
    return SourceSpec(
        name=entry["name"].strip(),
        format=entry["format"],
        path=entry["path"].strip(),
        enabled=enabled,
        max_chars=max_chars,
        limit=limit,
        import_date=import_date,
    )


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _import_date(value: Any, where: str) -> datetime.date | None:
    """An import_date as YAML gives it: a date (2026-11-20), the same quoted ("2026-11-20", as
    JSON-minded editors write it), or None. A timestamp (a datetime, also a date) is refused."""
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            raise SourceConfigError(f"{where}: 'import_date' {value!r} is not a calendar date") from None
    if value is None or (isinstance(value, datetime.date) and not isinstance(value, datetime.datetime)):
        return value
    raise SourceConfigError(f"{where}: 'import_date' must be a date like 2026-11-20")


EXTENSION_FORMATS = {".jsonl": "jsonl_jobs", ".mbox": "mbox", ".eml": "eml", ".csv": "csv_accounts"}
SNIFF_BYTES = 8192
_HEADER_LINE = re.compile(rb"^[A-Za-z][A-Za-z0-9-]*:[ \t]")
_EML_HEADERS = (b"from:", b"date:", b"subject:", b"message-id:")


def detect_format(path: Path) -> str | None:
    """A file's (or folder's) format: a maildir folder (cur/ or new/ inside), a known extension,
    else what its first bytes look like (an mbox "From " line, a JSON object per line, mail
    headers, a CSV header with a `name` column); None when it is none of those."""
    if path.is_dir():
        return "maildir" if any((path / sub).is_dir() for sub in ("cur", "new")) else None
    if path.suffix.lower() in EXTENSION_FORMATS:
        return EXTENSION_FORMATS[path.suffix.lower()]
    try:
        with path.open("rb") as f:
            head = f.read(SNIFF_BYTES).removeprefix(b"\xef\xbb\xbf").lstrip()
    except OSError:
        return None
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    if first.startswith(b"From "):
        return "mbox"
    if first.startswith(b"{"):
        return "jsonl_jobs"
    headers = head.split(b"\n\n", 1)[0].splitlines()
    if _HEADER_LINE.match(first) and sum(line.lower().startswith(_EML_HEADERS) for line in headers) >= 2:
        return "eml"
    columns = next(csv.reader([first.decode("utf-8", errors="replace")]), [])
    if len(columns) > 1 and "name" in (c.strip().lower() for c in columns):
        return "csv_accounts"
    return None


def spec_for_file(path: Path, name: str | None = None) -> SourceSpec:
    """A source for a file (or maildir folder), its format detected (`detect_format`); named
    `import:<file name>` (the imports folder's) unless `name` is given."""
    file_format = detect_format(path)
    if file_format is None:
        raise SourceConfigError(
            f"{path.name}: not a recognized import (a maildir folder, {', '.join(EXTENSION_FORMATS)}, "
            "or a file that looks like one of them)"
        )
    # The name is stored with every record: a non-UTF-8 byte in the file name becomes `\xNN`.
    return SourceSpec(name=name or f"import:{printable_name(path.name)}", format=file_format, path=str(path))


def import_date_of(spec: SourceSpec, base_dir: str | Path) -> datetime.date:
    """The date undated records of `spec` take: pinned in sources.yaml, else the file's mtime
    (UTC). Stable across re-runs, so re-materializing a partition reads the same records.
    Today (UTC) for a file that cannot be stat'ed: `read_source_safely` then records its
    source_error on that day, instead of this raising before the source is read."""
    if spec.import_date is not None:
        return spec.import_date
    path = Path(base_dir) / spec.path  # an absolute spec.path wins over base_dir
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return datetime.datetime.now(datetime.UTC).date()
    return datetime.datetime.fromtimestamp(mtime, tz=datetime.UTC).date()


def read_source(spec: SourceSpec, import_date: datetime.date, base_dir: str | Path) -> Iterator[Signal | Rejection]:
    """Stream a source's Signals and Rejections, at most `spec.limit` of them.

    Positions name the file as written in sources.yaml, so lineage (and the ids of records
    without an external id) do not depend on where the project is checked out.
    `import_date` dates undated records and bounds email dates (later mail is implausible).
    An email source is read twice (the first pass fingerprints its messages, to trim quotes of
    messages it holds), the first pass whole even under a `limit`.
    Raises FileNotFoundError now, not on first iteration, when the path does not exist.
    """
    path = Path(base_dir) / spec.path
    if not path.exists():
        raise FileNotFoundError(f"source {spec.name!r}: {path} does not exist")
    common: dict[str, Any] = {
        "source": spec.name,
        "import_date": import_date,
        "max_chars": spec.max_chars,
        "label": printable_name(spec.path),
    }
    match spec.format:
        case "jsonl_jobs":
            records = parse_jobs_jsonl(path, **common)
        case "csv_accounts":
            records = parse_accounts_csv(path, **common)
        case "mbox":
            records = parse_mbox(path, **common)
        case "maildir":
            records = parse_maildir(path, **common)
        case "eml":
            records = parse_eml(path, **common)
        case _:
            raise ValueError(f"source {spec.name!r}: unknown format {spec.format!r}")
    return itertools.islice(records, spec.limit)


def read_source_safely(
    spec: SourceSpec,
    import_date: datetime.date,
    base_dir: str | Path,
    records: Iterator[Signal | Rejection] | None = None,
) -> Iterator[Signal | Rejection]:
    """`read_source` that never raises: when the source fails (missing, unreadable, a parser
    error part-way), what it gave so far stands and one `source_error` Rejection, at position
    `<path>#source_error`, says where it stopped and why; the rest of that source is not read.
    `records`: the source's records as another reader gives them (the ingest index's), lazily.
    """
    count = 0
    last: str | None = None
    try:
        for record in records if records is not None else read_source(spec, import_date, base_dir):
            count += 1
            last = record.position
            yield record
    except Exception as exc:  # any failure of one source must leave the other sources read
        # The type and an OS error's text, never the message of a parser (it may quote data).
        what = (
            f"{type(exc).__name__} ({exc.strerror})"
            if isinstance(exc, OSError) and exc.strerror
            else type(exc).__name__
        )
        where = f"after {count} records, the last at {last}" if last else "before its first record"
        yield Rejection(
            source=spec.name,
            kind=FORMAT_KINDS.get(spec.format, "unknown"),
            position=f"{printable_name(spec.path)}#source_error",
            reason=f"{Reason.SOURCE_ERROR}: {what} {where}; the rest of the source is not read",
            excerpt="",
        )


@dataclass(slots=True)
class SourceCounts:
    """What one source gave in a run. Every record read is a signal or a quarantined record, so
    `read == signals + quarantined`; a run reconciles these with what it wrote."""

    source: str
    signals: int = 0
    quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)  # reason code -> records

    @property
    def read(self) -> int:
        return self.signals + self.quarantined

    def add(self, record: Signal | Rejection) -> None:
        if isinstance(record, Rejection):
            self.quarantined += 1
            self.reasons[reason_code(record.reason)] += 1
        else:
            self.signals += 1

    def as_metadata(self) -> dict[str, Any]:
        """Plain values for run metadata."""
        return {
            "read": self.read,
            "signals": self.signals,
            "quarantined": self.quarantined,
            "reasons": dict(self.reasons),
        }
