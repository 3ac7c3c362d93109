"""raw_signals over real files when a source is broken: the other sources are read, the broken
one is one source_error record with its position, and the blocking reconcile check sees every
record read land somewhere."""

import json
from datetime import date

import dagster as dg
import yaml

from leadflow.defs import checks
from leadflow.defs.assets.ingest import raw_signals
from leadflow.defs.resources import DuckDBWarehouse, PipelineSettings

DAY = date(2024, 3, 5)
OTHER_DAY = date(2024, 3, 9)


def _message(msg_id: str, sent: str) -> str:
    return (
        f"From a@example.com Tue Mar  5 10:00:00 2024\nFrom: a@example.com\nTo: b@example.org\n"
        f"Subject: note {msg_id}\nDate: {sent}\nMessage-ID: <{msg_id}@example.com>\n\nBody of {msg_id}.\n\n"
    )


def test_a_broken_source_is_recorded_and_the_run_goes_on(tmp_path):
    mbox = (
        _message("today", "Tue, 05 Mar 2024 10:00:00 +0000")
        + _message("later", "Sat, 09 Mar 2024 10:00:00 +0000")
        + _message("ancient", "Mon, 01 Jan 0001 10:00:00 +0000")
    )
    (tmp_path / "emails.mbox").write_text(mbox, encoding="utf-8")
    (tmp_path / "jobs.jsonl").write_text(
        json.dumps({"job_id": "7", "title": "Growth Marketer", "description": "B2B SaaS"}) + "\n{not json\n"
    )
    (tmp_path / "folder.eml").mkdir()
    sources = {
        "sources": [
            {"name": "emails", "format": "mbox", "path": "emails.mbox", "import_date": OTHER_DAY},
            {"name": "gone", "format": "jsonl_jobs", "path": "missing.jsonl", "import_date": DAY},
            {"name": "jobs", "format": "jsonl_jobs", "path": "jobs.jsonl", "import_date": DAY},
        ]
    }
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(sources))
    duckdb = DuckDBWarehouse(database=str(tmp_path / "leadflow.duckdb"))
    result = dg.materialize(
        [raw_signals, checks.raw_signals_counts_reconcile],
        partition_key=DAY.isoformat(),
        resources={
            "duckdb": duckdb,
            "pipeline": PipelineSettings(sources_path=str(tmp_path / "sources.yaml"), imports_dir=str(tmp_path / "in")),
        },
    )
    assert result.success
    [check] = result.get_asset_check_evaluations()
    assert check.passed and check.metadata["records_read"].value == 6
    with duckdb.get_connection() as conn:
        signals = conn.execute("SELECT source, title FROM raw_signals ORDER BY source").fetchall()
        rejects = conn.execute("SELECT source, position, reason FROM quarantined_signals ORDER BY source").fetchall()
        counts = conn.execute(
            "SELECT source, records_read, signals, quarantined, elsewhere FROM source_counts ORDER BY source"
        ).fetchall()
    assert signals == [("emails", "note today"), ("jobs", "Growth Marketer")]
    by_source = {source: (position, reason.split(":")[0]) for source, position, reason in rejects}
    assert by_source["gone"] == ("missing.jsonl#source_error", "source_error")
    assert by_source["jobs"][1] == "bad_json"
    # The 0001 email is rejected in its import-date partition (another day): counted elsewhere,
    # like the email of 9 March.
    assert counts == [("emails", 3, 1, 0, 2), ("gone", 1, 0, 1, 0), ("jobs", 2, 1, 1, 0)]
