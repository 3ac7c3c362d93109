"""The ingest index: what each source held when last read, so a run parses only the records of
its own days and those added since, and counts the others without reading them.

Per source file it keeps the size and mtime and, per record, its own date (a signal's date, a
reject's record date, None for records the import date places: job postings, account rows,
unreadable mail) and, for mail, where the message starts and the fingerprint of its own words.
A record's partition follows from its own date and the run's import date (`placement_day`),
so the index stays valid when an unpinned import date moves with the file's mtime.

- mbox: messages by offset. Unchanged size and mtime: the index is used as is. A file that only
  grew (its first and last 64 KiB before the old end unchanged) is indexed from its last indexed
  message on; any other change re-indexes it. Quotes are trimmed against the fingerprints in
  the index (one lookup per quote), so a day's messages read exactly as in a full parse.
- maildir: messages by file name (maildir files are written once; a renamed file is a new one).
- jsonl_jobs, csv_accounts, eml: whole files. Unchanged and none of its records in the run's
  days: not opened at all; else read whole, as without an index.

A source with a `limit` is read without the index. The index is a SQLite file (WAL, so workers
of one host share it; a write holds its lock while it indexes): deleting it only costs one full
read per source.
"""

import datetime
import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from leadflow.ingest.emails import (
    maildir_files,
    maildir_position,
    mbox_messages,
    message_facts,
    parse_messages,
    read_message_file,
)
from leadflow.ingest.placement import placement_day
from leadflow.ingest.records import Rejection, Signal
from leadflow.ingest.sources import SourceSpec, read_source
from leadflow.ingest.text import content_fingerprint, printable_name
from leadflow.storage.private import private_file, private_parent

INDEX_FILE = "ingest-index.sqlite"  # in the data dir: per host (SQLite wants a local disk)
EDGE_BYTES = 1 << 16  # of a grown mbox, the bytes compared at the start and before the old end
LOCK_WAIT_S = 600.0  # another worker indexing the same source holds the write lock this long at most
_UNDATED_FORMATS = frozenset({"jsonl_jobs", "csv_accounts"})  # every record on the import date
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS files (key TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, "
    "head_sha TEXT, tail_sha TEXT, records INTEGER, days TEXT)",
    "CREATE TABLE IF NOT EXISTS entries (key TEXT NOT NULL, locator TEXT NOT NULL, ordinal INTEGER, "
    "offset_bytes INTEGER, day INTEGER, fingerprint INTEGER, PRIMARY KEY (key, locator))",
    "CREATE INDEX IF NOT EXISTS entries_by_day ON entries (key, day)",
    "CREATE INDEX IF NOT EXISTS entries_by_ordinal ON entries (key, ordinal)",
    "CREATE INDEX IF NOT EXISTS entries_by_fingerprint ON entries (key, fingerprint)",
)


@dataclass(frozen=True)
class _Run:
    """One source as a run reads it through the index."""

    spec: SourceSpec
    import_date: datetime.date
    base_dir: Path
    path: Path
    key: str  # the index's name for the file: its format and resolved path
    wanted: set[datetime.date]
    first_day: datetime.date


@dataclass
class IndexedRead:
    """A source's records that may fall in the run's days; `skipped`: those the index places
    in other days, not read (set before the first record is given)."""

    records: Iterator[Signal | Rejection]
    skipped: int = 0


def _day(value: datetime.date | None) -> int | None:
    return None if value is None else value.toordinal()


def _signed(fingerprint: int | None) -> int | None:
    """A 64-bit fingerprint as SQLite's signed INTEGER."""
    return None if fingerprint is None else fingerprint - (1 << 64) if fingerprint >= 1 << 63 else fingerprint


def _sha(path: Path, start: int, end: int) -> str:
    with path.open("rb") as f:
        f.seek(start)
        return hashlib.sha256(f.read(end - start)).hexdigest()


def _edges(path: Path, size: int) -> tuple[str, str]:
    """Hashes of the first and the last EDGE_BYTES before `size`."""
    return _sha(path, 0, min(size, EDGE_BYTES)), _sha(path, max(size - EDGE_BYTES, 0), size)


class _Fingerprints:
    """The archive of an mbox or maildir as the index holds it: the messages read as mail and
    dated on or before the import date (later ones are implausible, so not in the archive)."""

    def __init__(self, conn: sqlite3.Connection, key: str, import_date: datetime.date) -> None:
        self._conn, self._key, self._latest = conn, key, import_date.toordinal()

    def holds(self, text: str) -> bool:
        fingerprint = content_fingerprint(text)
        if fingerprint is None:
            return False
        found = self._conn.execute(
            "SELECT 1 FROM entries WHERE key = ? AND fingerprint = ? AND day <= ? LIMIT 1",
            [self._key, _signed(fingerprint), self._latest],
        ).fetchone()
        return found is not None


class SourceIndex:
    """The index file; `read` gives a source's records for a run through it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        private_parent(path)
        private_file(path, "-wal", "-shm", create=True)
        with closing(self._connect()) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            for statement in _SCHEMA:
                conn.execute(statement)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=LOCK_WAIT_S, isolation_level=None)

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken before reading what it updates, so two workers indexing
        the same source do it once."""
        with closing(self._connect()) as conn, conn:  # `with conn`: committed, or rolled back on error
            conn.execute("BEGIN IMMEDIATE")
            yield conn

    def read(
        self,
        spec: SourceSpec,
        import_date: datetime.date,
        base_dir: str | Path,
        wanted: set[datetime.date],
        first_day: datetime.date,
    ) -> IndexedRead:
        """The records of `spec` whose partition (`placement_day`) is in `wanted`, the others
        counted in `skipped`. Nothing is read before the first record is asked for; a missing
        path then raises FileNotFoundError, as `read_source` does. A whole file that is read
        gives records of other days too."""
        result = IndexedRead(iter(()))
        result.records = self._records(spec, import_date, Path(base_dir), wanted, first_day, result)
        return result

    def _records(
        self,
        spec: SourceSpec,
        import_date: datetime.date,
        base_dir: Path,
        wanted: set[datetime.date],
        first_day: datetime.date,
        result: IndexedRead,
    ) -> Iterator[Signal | Rejection]:
        path = base_dir / spec.path
        if spec.limit is not None or not path.exists():
            yield from read_source(spec, import_date, base_dir)
            return
        run = _Run(spec, import_date, base_dir, path, f"{spec.format}:{path.resolve()}", wanted, first_day)
        yield from (self._messages if spec.format in _MAIL_INDEXERS else self._whole_file)(run, result)

    def _whole_file(self, run: _Run, result: IndexedRead) -> Iterator[Signal | Rejection]:
        spec, import_date, path, key = run.spec, run.import_date, run.path, run.key
        stat = path.stat()
        with closing(self._connect()) as conn:
            row = conn.execute("SELECT size, mtime_ns, records, days FROM files WHERE key = ?", [key]).fetchone()
        if row is not None and (row[0], row[1]) == (stat.st_size, stat.st_mtime_ns):
            days = [None if d is None else datetime.date.fromordinal(d) for d in json.loads(row[3])]
            if not {placement_day(day, import_date, run.first_day) for day in days} & run.wanted:
                result.skipped = row[2]
                return
        days_seen: set[int | None] = set()
        count = 0
        for record in read_source(spec, import_date, run.base_dir):
            count += 1
            own = record.signal_date if isinstance(record, Signal) else record.record_date
            days_seen.add(None if spec.format in _UNDATED_FORMATS else _day(own))
            yield record
        with self._writing() as conn:  # read to the end without failing: what it holds is known
            conn.execute(
                "INSERT OR REPLACE INTO files (key, size, mtime_ns, records, days) VALUES (?, ?, ?, ?, ?)",
                [key, stat.st_size, stat.st_mtime_ns, count, json.dumps(sorted(days_seen, key=lambda d: d or 0))],
            )

    def _messages(self, run: _Run, result: IndexedRead) -> Iterator[Signal | Rejection]:
        spec, import_date, path, key = run.spec, run.import_date, run.path, run.key
        """Bring a mail source's index up to date, then parse the messages of the wanted days,
        seeking to each."""
        with self._writing() as conn:
            total = _MAIL_INDEXERS[spec.format](conn, path, key)
        with closing(self._connect()) as conn:
            rows = _wanted_entries(conn, key, run.wanted, run.first_day, import_date)
            result.skipped = total - len(rows)
            label = printable_name(spec.path)
            if spec.format == "mbox":
                messages: Iterator[tuple[str, bytes | OSError]] = (
                    (f"{label}#{ordinal}", _message_at(path, offset)) for _, ordinal, offset in rows
                )
            else:
                files = sorted(path / locator for locator, _, _ in rows)
                messages = ((maildir_position(label, path, f), read_message_file(f)) for f in files)
            yield from parse_messages(
                messages,
                _Fingerprints(conn, key, import_date),
                source=spec.name,
                import_date=import_date,
                max_chars=spec.max_chars,
            )


def _wanted_entries(
    conn: sqlite3.Connection,
    key: str,
    wanted: set[datetime.date],
    first_day: datetime.date,
    import_date: datetime.date,
) -> list[tuple[str, int, int]]:
    """(locator, ordinal, offset) of the entries `placement_day` puts in a wanted day, in file
    order: a date from `first_day` to the import date places a record on its own day, anything
    else (no date, earlier, later) on the import date."""
    own_days = [d.toordinal() for d in wanted if first_day <= d <= import_date]
    query = (
        "SELECT locator, ordinal, offset_bytes FROM entries WHERE key = ? AND day IN (SELECT value FROM json_each(?))"
    )
    params: list[object] = [key, json.dumps(own_days)]
    if import_date in wanted:  # a query of its own, so a daily run's stays on the day index
        query += " UNION ALL SELECT locator, ordinal, offset_bytes FROM entries WHERE key = ? AND "
        query += "(day IS NULL OR day < ? OR day > ?)"
        params += [key, first_day.toordinal(), import_date.toordinal()]
    rows = conn.execute(f"SELECT * FROM ({query}) ORDER BY ordinal, locator", params).fetchall()
    return [(locator, ordinal, offset) for locator, ordinal, offset in rows]


def _message_at(path: Path, offset: int) -> bytes:
    """The raw mbox message that starts at `offset`."""
    return next(raw for _, raw in mbox_messages(path, start=offset))


_Entry = tuple[str, int, int | None, int | None, int | None]  # locator, ordinal, offset, day, fingerprint


def _insert(conn: sqlite3.Connection, key: str, rows: Sequence[_Entry]) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO entries (key, locator, ordinal, offset_bytes, day, fingerprint) VALUES (?, ?, ?, ?, ?, ?)",
        [(key, *row) for row in rows],
    )


def _index_mbox(conn: sqlite3.Connection, path: Path, key: str) -> int:
    """Index an mbox's new messages (all of them unless it only grew); its message count."""
    size = path.stat().st_size
    mtime_ns = path.stat().st_mtime_ns
    row = conn.execute("SELECT size, mtime_ns, head_sha, tail_sha, records FROM files WHERE key = ?", [key]).fetchone()
    if row is not None and (row[0], row[1]) == (size, mtime_ns):
        return int(row[4])
    start, ordinal = 0, 0
    if row is not None and size > row[0] and _edges(path, row[0]) == (row[2], row[3]):
        last = conn.execute(
            "SELECT ordinal, offset_bytes FROM entries WHERE key = ? ORDER BY ordinal DESC LIMIT 1", [key]
        ).fetchone()
        if last is not None:  # it may have been cut short by the append: read it again
            ordinal, start = last
    conn.execute("DELETE FROM entries WHERE key = ? AND ordinal >= ?", [key, ordinal])
    rows: list[_Entry] = []
    for n, (offset, raw) in enumerate(mbox_messages(path, start=start), start=ordinal):
        facts = message_facts(raw)
        rows.append((str(n), n, offset, _day(facts.date), _signed(facts.fingerprint)))
    _insert(conn, key, rows)
    records = ordinal + len(rows)
    conn.execute(
        "INSERT OR REPLACE INTO files (key, size, mtime_ns, head_sha, tail_sha, records) VALUES (?, ?, ?, ?, ?, ?)",
        [key, size, mtime_ns, *_edges(path, size), records],
    )
    return records


def _index_maildir(conn: sqlite3.Connection, path: Path, key: str) -> int:
    """Index a maildir's new message files, forget those gone; its message count."""
    files = {f.relative_to(path).as_posix(): f for f in maildir_files(path)}
    known = {locator for (locator,) in conn.execute("SELECT locator FROM entries WHERE key = ?", [key])}
    gone = known - files.keys()
    conn.executemany("DELETE FROM entries WHERE key = ? AND locator = ?", [(key, locator) for locator in gone])
    rows: list[_Entry] = []
    for locator in sorted(files.keys() - known):
        facts = message_facts(read_message_file(files[locator]))
        rows.append((locator, 0, None, _day(facts.date), _signed(facts.fingerprint)))
    _insert(conn, key, rows)
    return len(files)


_MAIL_INDEXERS: dict[str, Callable[[sqlite3.Connection, Path, str], int]] = {
    "mbox": _index_mbox,
    "maildir": _index_maildir,
}
