"""sources.yaml loading and validation, read_source dispatch, and the shipped samples end to end."""

import datetime
import os
import shutil
from dataclasses import replace

import pytest

import leadflow.ingest
from leadflow.ingest import (
    Rejection,
    Signal,
    SourceConfigError,
    SourceCounts,
    SourceSpec,
    load_sources,
    read_source,
    read_source_safely,
)
from leadflow.ingest.sources import detect_format, import_date_of, spec_for_file
from leadflow.paths import RESOURCES_DIR

from .conftest import FIXTURES, IMPORT_DATE, only_signals, split

SOURCES_YAML = RESOURCES_DIR / "sources.yaml"


def test_public_api():
    assert set(leadflow.ingest.__all__) == {
        "Signal",
        "Rejection",
        "Reason",
        "SourceConfigError",
        "SourceCounts",
        "SourceSpec",
        "load_sources",
        "read_source",
        "read_source_safely",
    }


def test_project_sources_yaml():
    specs = load_sources(SOURCES_YAML)
    assert [(s.name, s.format) for s in specs] == [
        ("sample_jobs", "jsonl_jobs"),
        ("sample_emails", "mbox"),
        ("sample_accounts", "csv_accounts"),
    ]
    assert all(s.enabled and s.max_chars == 20_000 and s.limit is None for s in specs)
    # Undated samples are pinned so every clone puts them in the same partition.
    assert [s.import_date for s in specs] == [datetime.date(2026, 11, 20), None, datetime.date(2026, 11, 20)]


def test_import_date_is_pinned_or_the_file_modification_day(tmp_path):
    export = tmp_path / "accounts.csv"
    export.write_text("name\nAcme\n", encoding="utf-8")
    noon_utc = datetime.datetime(2025, 3, 4, 12, 0, tzinfo=datetime.UTC).timestamp()
    os.utime(export, (noon_utc, noon_utc))
    pinned = SourceSpec(name="a", format="csv_accounts", path="accounts.csv", import_date=datetime.date(2026, 1, 2))
    unpinned = SourceSpec(name="a", format="csv_accounts", path="accounts.csv")
    assert import_date_of(pinned, tmp_path) == datetime.date(2026, 1, 2)
    assert import_date_of(unpinned, tmp_path) == datetime.date(2025, 3, 4)
    assert import_date_of(replace(unpinned, path=str(export)), "/elsewhere") == datetime.date(2025, 3, 4)
    # A missing file does not raise here: read_source_safely records it as a source_error.
    assert import_date_of(replace(unpinned, path="gone.csv"), tmp_path) == datetime.datetime.now(datetime.UTC).date()


@pytest.mark.parametrize(
    ("name", "expected", "records", "kind"),
    [
        ("sample_jobs", (60, 0), 60, "job_posting"),
        ("sample_emails", (113, 7), 120, "email"),  # forwards read, long mails windowed, 1980 dates out
        ("sample_accounts", (149, 1), 150, "account"),
    ],
)
def test_samples_parse_without_crashing(name, expected, records, kind):
    (spec,) = [s for s in load_sources(SOURCES_YAML) if s.name == name]
    signals, rejections = split(read_source(spec, IMPORT_DATE, RESOURCES_DIR))
    assert (len(signals), len(rejections)) == expected
    assert len(signals) + len(rejections) == records
    every: list[Signal | Rejection] = [*signals, *rejections]
    for record in every:
        assert record.source == name and record.kind == kind
        assert record.position.startswith(f"{spec.path}#")  # lineage independent of the checkout
    for signal in signals:
        assert len(signal.signal_id) == 20 and len(signal.content_hash) == 64
        assert signal.text and isinstance(signal.attributes, dict)
        assert signal.title or kind == "email"  # some emails have no Subject


def test_ids_do_not_depend_on_where_the_project_lives(tmp_path):
    specs = load_sources(SOURCES_YAML)
    shutil.copytree(RESOURCES_DIR, tmp_path / "resources")
    for spec in specs:
        here = [r for r in read_source(spec, IMPORT_DATE, RESOURCES_DIR)]
        there = [r for r in read_source(spec, IMPORT_DATE, tmp_path / "resources")]
        assert here == there


def test_limit_reads_a_slice():
    spec = SourceSpec(name="slice", format="mbox", path="samples/enron_sample.mbox", limit=5)
    records = list(read_source(spec, IMPORT_DATE, RESOURCES_DIR))
    assert len(records) == 5
    assert [r.position for r in records] == [f"{spec.path}#{n}" for n in range(5)]


def test_maildir_and_eml_dispatch(tmp_path):
    (tmp_path / "sources.yaml").write_text(
        f"""
sources:
  - name: inbox
    format: maildir
    path: {FIXTURES / "maildir"}
  - name: one_mail
    format: eml
    path: {FIXTURES / "single.eml"}
    max_chars: 500
  - name: old_export
    format: csv_accounts
    path: accounts.csv
    enabled: false
""",
        encoding="utf-8",
    )
    inbox, one_mail, old_export = load_sources(tmp_path / "sources.yaml")
    assert (one_mail.max_chars, old_export.enabled) == (500, False)
    assert [type(r) for r in read_source(inbox, IMPORT_DATE, tmp_path)] == [Signal, Rejection, Signal]
    assert [r.external_id for r in only_signals(read_source(one_mail, IMPORT_DATE, tmp_path))] == [
        "<eml1@vendor.example.org>"
    ]


def test_missing_file_fails_when_reading_starts(tmp_path):
    spec = SourceSpec(name="gone", format="jsonl_jobs", path="nowhere.jsonl")
    with pytest.raises(FileNotFoundError, match="'gone'"):
        read_source(spec, IMPORT_DATE, tmp_path)


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("sources:\n  - {name: a, format: xml, path: a.xml}\n", "unknown format 'xml'"),
        ("sources:\n  - {name: a, format: mbox}\n", "missing or empty 'path'"),
        ("sources:\n  - {format: mbox, path: a}\n", "missing or empty 'name'"),
        ("sources:\n  - {name: a, format: mbox, path: a, limt: 5}\n", "unknown field"),
        ("sources:\n  - {name: a, format: mbox, path: a, limit: 0}\n", "'limit' must be a positive integer"),
        ("sources:\n  - {name: a, format: mbox, path: a, max_chars: many}\n", "'max_chars' must be"),
        ("sources:\n  - {name: a, format: mbox, path: a, enabled: maybe}\n", "'enabled' must be"),
        ("sources:\n  - {name: a, format: mbox, path: a}\n  - {name: a, format: eml, path: b}\n", "duplicate"),
        ("sources:\n  - just a string\n", "expected a mapping"),
        ("- name: a\n", "top-level 'sources:' list"),
        ("sources: [unclosed\n", "not valid YAML"),
        ("sources:\n  - {name: a, format: mbox, path: a, import_date: 2026-13-01}\n", "not valid YAML"),
        ("sources:\n  - {name: a, format: mbox, path: a, import_date: yesterday}\n", "'import_date' must be a date"),
        ("sources:\n  - {name: a, format: mbox, path: a, import_date: 2026-11-20T10:00:00}\n", "must be a date"),
    ],
)
def test_invalid_sources_yaml_is_explained(tmp_path, yaml_text, message):
    path = tmp_path / "sources.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(SourceConfigError, match=message):
        load_sources(path)


def test_read_source_safely_turns_a_failing_source_into_one_source_error(tmp_path):
    (tmp_path / "folder.mbox").mkdir()
    for spec in (
        SourceSpec(name="gone", format="jsonl_jobs", path="nowhere.jsonl"),
        SourceSpec(name="folder", format="mbox", path="folder.mbox"),
    ):
        (rejection,) = read_source_safely(spec, IMPORT_DATE, tmp_path)
        assert isinstance(rejection, Rejection)
        assert rejection.position == f"{spec.path}#source_error"
        assert rejection.reason.startswith("source_error: ")
        assert rejection.reason.endswith("before its first record; the rest of the source is not read")
    (missing,) = split(
        read_source_safely(SourceSpec(name="gone", format="eml", path="gone.eml"), IMPORT_DATE, tmp_path)
    )[1]
    assert missing.kind == "email" and "FileNotFoundError" in missing.reason


def test_read_source_safely_passes_a_good_source_through():
    (spec,) = [s for s in load_sources(SOURCES_YAML) if s.name == "sample_accounts"]
    assert list(read_source_safely(spec, IMPORT_DATE, RESOURCES_DIR)) == list(
        read_source(spec, IMPORT_DATE, RESOURCES_DIR)
    )


def test_source_counts_reconcile():
    (spec,) = [s for s in load_sources(SOURCES_YAML) if s.name == "sample_emails"]
    counts = SourceCounts(spec.name)
    for record in read_source_safely(spec, IMPORT_DATE, RESOURCES_DIR):
        counts.add(record)
    assert counts.as_metadata() == {
        "read": 120,
        "signals": 113,
        "quarantined": 7,
        "reasons": {"empty_body": 2, "implausible_date": 5},
    }


def test_an_import_file_name_that_is_not_utf8_gives_storable_names(tmp_path):
    dropped = tmp_path / "caf\udce9.csv"  # the latin-1 byte 0xE9, as os.listdir gives it
    dropped.write_bytes(b"name,city\nAcme,Austin\n")
    spec = spec_for_file(dropped)
    assert spec.name == "import:caf\\xe9.csv"
    (signal,) = only_signals(read_source_safely(spec, IMPORT_DATE, tmp_path))
    assert signal.position.endswith("caf\\xe9.csv#0")
    signal.source.encode("utf-8")
    signal.position.encode("utf-8")


@pytest.mark.parametrize("written", ["2026-11-25", "'2026-11-25'", '"2026-11-25"', '" 2026-11-25 "'])
def test_a_quoted_import_date_is_a_date(tmp_path, written):
    path = tmp_path / "sources.yaml"
    path.write_text(f"sources:\n  - {{name: a, format: mbox, path: a.mbox, import_date: {written}}}\n")
    assert load_sources(path)[0].import_date == datetime.date(2026, 11, 25)


def test_a_quoted_date_that_is_no_calendar_day_is_explained(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text('sources:\n  - {name: a, format: mbox, path: a.mbox, import_date: "2026-02-30"}\n')
    with pytest.raises(SourceConfigError, match="'2026-02-30' is not a calendar date"):
        load_sources(path)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("jobs.jsonl", b"", "jsonl_jobs"),  # the extension decides
        ("backlog.mbox", b"", "mbox"),
        ("export", b"From alice@example.com Mon Jan  1 00:00:00 2024\nSubject: x\n\nhi\n", "mbox"),
        ("posts.txt", b'{"job_id": "1", "title": "Data Engineer"}\n', "jsonl_jobs"),
        ("message.txt", b"Date: Mon, 1 Jan 2024 10:00:00 +0000\nFrom: a@example.com\nSubject: x\n\nhi\n", "eml"),
        ("accounts.tsv", b"\xef\xbb\xbfpermalink,Name,city\n/c/acme,Acme,Austin\n", "csv_accounts"),
        ("notes.txt", b"just some notes, nothing to import\n", None),
        ("header-only.txt", b"Subject: only one header\n\nbody\n", None),
    ],
)
def test_the_format_comes_from_the_extension_else_the_content(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    assert detect_format(path) == expected


def test_a_folder_is_a_maildir_when_it_has_cur_or_new(tmp_path):
    assert detect_format(FIXTURES / "maildir") == "maildir"
    assert detect_format(tmp_path) is None
    assert spec_for_file(FIXTURES / "maildir", name="mail").format == "maildir"
    with pytest.raises(SourceConfigError, match="not a recognized import"):
        spec_for_file(tmp_path)
