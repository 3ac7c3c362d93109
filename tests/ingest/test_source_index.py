"""The ingest index: a run through it places exactly what a full parse places (signals, rejects,
tallies), parses only the records of its days, and follows a source that grows, is rewritten or
(maildir) gains and loses files."""

import datetime
import os
import shutil

import dagster as dg
import pytest
import yaml

from leadflow.defs import checks
from leadflow.defs.assets.ingest import raw_signals
from leadflow.defs.partitions import daily_partitions
from leadflow.defs.resources import DuckDBWarehouse, PipelineSettings
from leadflow.ingest import load_sources
from leadflow.ingest.emails import iter_mbox_messages, mbox_messages
from leadflow.ingest.placement import Placement, place_records
from leadflow.ingest.source_index import SourceIndex
from leadflow.ingest.sources import SourceSpec, import_date_of
from leadflow.paths import RESOURCES_DIR

FIRST = daily_partitions.start.date()
SAMPLE_MBOX = RESOURCES_DIR / "samples" / "enron_sample.mbox"
IMPORT = datetime.date(2026, 11, 20)
BUSY_DAY = datetime.date(2001, 7, 10)


def _outcome(placed: Placement) -> tuple:
    tallies = {k: (t.read, t.signals, t.quarantined, t.elsewhere) for k, t in placed.tallies.items()}
    return placed.signals, placed.rejects, tallies


def _same_as_full_parse(sources, base_dir, wanted, index) -> Placement:
    """place_records through the index, asserted equal to the full parse; the indexed Placement."""
    indexed = place_records(sources, base_dir, wanted, FIRST, index=index)
    assert _outcome(indexed) == _outcome(place_records(sources, base_dir, wanted, FIRST))
    assert all(t.reconciles and t.skipped <= t.elsewhere for t in indexed.tallies.values())
    return indexed


def _mbox(path, messages: list[bytes]) -> None:
    path.write_bytes(b"".join(b"From someone@example.com Mon Jan  1 00:00:00 2001\n" + m for m in messages))


@pytest.fixture(scope="module")
def sample_messages() -> list[bytes]:
    return list(iter_mbox_messages(SAMPLE_MBOX))


def test_offsets_read_back_the_same_messages():
    messages = list(mbox_messages(SAMPLE_MBOX))
    for offset, raw in messages[::17]:
        assert next(iter(mbox_messages(SAMPLE_MBOX, start=offset))) == (offset, raw)


def test_the_bundled_sources_read_through_the_index_as_in_full(tmp_path):
    sources_file = RESOURCES_DIR / "sources.yaml"
    sources = [(s, import_date_of(s, sources_file.parent)) for s in load_sources(sources_file)]
    index = SourceIndex(tmp_path / "index.sqlite")
    july = {datetime.date(2001, 7, 1) + datetime.timedelta(days=n) for n in range(31)}
    for wanted in ({BUSY_DAY}, {BUSY_DAY}, july, {IMPORT}):  # a cold index, then warm
        placed = _same_as_full_parse(sources, sources_file.parent, wanted, index)
    # warm, the day of the postings and accounts: the mail of other days is counted, not parsed
    assert placed.tallies["sample_emails"].skipped == placed.tallies["sample_emails"].read > 100
    day = _same_as_full_parse(sources, sources_file.parent, {BUSY_DAY}, index)
    assert day.tallies["sample_jobs"].skipped == day.tallies["sample_jobs"].read == 60
    assert day.tallies["sample_emails"].skipped == day.tallies["sample_emails"].read - 1


def test_a_grown_mbox_is_indexed_from_its_old_end_and_a_rewritten_one_again(tmp_path, sample_messages):
    path = tmp_path / "mail.mbox"
    _mbox(path, sample_messages[:40])
    spec = SourceSpec(name="mail", format="mbox", path=str(path), import_date=IMPORT)
    index = SourceIndex(tmp_path / "index.sqlite")
    days = {datetime.date(2001, 5, 1) + datetime.timedelta(days=n) for n in range(120)}
    _same_as_full_parse([(spec, IMPORT)], tmp_path, days, index)
    with path.open("ab") as f:  # the archive grows: the next messages arrive
        f.write(b"".join(b"From someone@example.com Mon Jan  1 00:00:00 2001\n" + m for m in sample_messages[40:90]))
    grown = _same_as_full_parse([(spec, IMPORT)], tmp_path, days, index)
    assert grown.tallies["mail"].read == 90
    _mbox(path, sample_messages[90:] + sample_messages[:10])  # rewritten: re-indexed whole
    rewritten = _same_as_full_parse([(spec, IMPORT)], tmp_path, days | {IMPORT}, index)
    assert rewritten.tallies["mail"].read == len(sample_messages) - 80


def test_an_unpinned_import_date_moving_keeps_the_index_right(tmp_path, sample_messages):
    """Without a pinned import date, mail after it is implausible; the index stores dates, not
    placements, so a later import date places that mail again as a full parse does."""
    path = tmp_path / "mail.mbox"
    _mbox(path, sample_messages[:60])
    spec = SourceSpec(name="mail", format="mbox", path=str(path))
    index = SourceIndex(tmp_path / "index.sqlite")
    for import_date in (datetime.date(2001, 6, 1), datetime.date(2001, 9, 1), datetime.date(2000, 1, 1)):
        wanted = {import_date, datetime.date(2001, 5, 15), datetime.date(2001, 7, 10)}
        _same_as_full_parse([(spec, import_date)], tmp_path, wanted, index)


def test_a_maildir_follows_new_and_removed_files(tmp_path, sample_messages):
    root = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    for n, raw in enumerate(sample_messages[:30]):
        (root / ("cur" if n % 2 else "new") / f"{n:04d}.host").write_bytes(raw)
    spec = SourceSpec(name="box", format="maildir", path=str(root), import_date=IMPORT)
    index = SourceIndex(tmp_path / "index.sqlite")
    days = {datetime.date(2001, 4, 1) + datetime.timedelta(days=n) for n in range(90)}
    _same_as_full_parse([(spec, IMPORT)], tmp_path, days, index)
    (root / "new" / "0002.host").unlink()
    (root / "new" / "9999.host").write_bytes(sample_messages[40])
    changed = _same_as_full_parse([(spec, IMPORT)], tmp_path, days, index)
    assert changed.tallies["box"].read == 30


def test_an_unchanged_file_outside_the_run_is_not_parsed(tmp_path):
    """Postings all land on the import date: a run of another day counts them from the index.
    The file is then overwritten with garbage of the same size and mtime, which the index takes
    for unchanged (size and mtime are what it compares): no bad_json reject shows up."""
    path = tmp_path / "jobs.jsonl"
    path.write_text('{"job_id": "1", "title": "Data Engineer", "description": "Pipelines"}\n' * 5)
    spec = SourceSpec(name="jobs", format="jsonl_jobs", path=str(path), import_date=IMPORT)
    index = SourceIndex(tmp_path / "index.sqlite")
    place_records([(spec, IMPORT)], tmp_path, {IMPORT}, FIRST, index=index)
    stat = path.stat()
    path.write_bytes(b"x" * stat.st_size)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    other_day = place_records([(spec, IMPORT)], tmp_path, {IMPORT - datetime.timedelta(days=1)}, FIRST, index=index)
    assert (other_day.tallies["jobs"].read, other_day.tallies["jobs"].skipped, other_day.rejects) == (5, 5, [])


def test_raw_signals_records_what_the_index_skipped_and_reconciles(tmp_path, monkeypatch, sample_messages):
    monkeypatch.setenv("LEADFLOW_HOME", str(tmp_path / "home"))
    _mbox(tmp_path / "mail.mbox", sample_messages[:50])
    shutil.copy(RESOURCES_DIR / "samples" / "jobs_sample.jsonl", tmp_path / "jobs.jsonl")
    sources = {
        "sources": [
            {"name": "mail", "format": "mbox", "path": "mail.mbox", "import_date": IMPORT},
            {"name": "jobs", "format": "jsonl_jobs", "path": "jobs.jsonl", "import_date": IMPORT},
        ]
    }
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(sources))
    duckdb = DuckDBWarehouse(database=str(tmp_path / "leadflow.duckdb"))
    resources = {
        "duckdb": duckdb,
        "pipeline": PipelineSettings(sources_path=str(tmp_path / "sources.yaml"), imports_dir=str(tmp_path / "in")),
    }
    for _ in range(2):
        result = dg.materialize(
            [raw_signals, checks.raw_signals_counts_reconcile], partition_key=BUSY_DAY.isoformat(), resources=resources
        )
        assert result.success
        [check] = result.get_asset_check_evaluations()
        assert check.passed
    assert check.metadata["skipped"].value == check.metadata["elsewhere"].value == 50 - 1 + 60
    with duckdb.get_connection() as conn:
        counts = conn.execute("SELECT source, records_read, skipped FROM source_counts ORDER BY seq").fetchall()
    assert counts[-2:] == [("mail", 50, 49), ("jobs", 60, 60)]
