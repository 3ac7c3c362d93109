"""Preview metadata keeps email subjects and text out by default (job postings stay visible):
the preview builder itself, and the raw_signals materialization over real files."""

import json
from datetime import date

import dagster as dg
import pandas as pd
import yaml

from leadflow.defs.assets.ingest import raw_signals
from leadflow.defs.metadata import preview
from leadflow.defs.resources import DuckDBWarehouse, PipelineSettings

DAY = date(2024, 3, 5)
SUBJECT = "Re: merger terms, strictly confidential"
BODY = "The board accepts 41 dollars a share; keep this between us."
POSTING = "Senior Data Engineer (Python, dbt)"

MBOX = f"""From alice@example.com Tue Mar  5 10:00:00 2024
From: Alice Example <alice@example.com>
To: bob@example.org
Subject: {SUBJECT}
Date: Tue, 05 Mar 2024 10:00:00 +0000
Message-ID: <merger-1@example.com>

{BODY}
"""


def _table(frame: pd.DataFrame, columns: list[str], **options) -> str:
    return str(preview(frame, columns, **options).value)


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kind": ["email", "job_posting"],
            "title": [SUBJECT, POSTING],
            "summary": [BODY, "A data team hiring"],
            "final_score": [91.0, 88.0],
        }
    )


def test_email_subjects_and_summaries_are_hidden_by_default():
    table = _table(_frame(), ["title", "summary", "final_score"])
    assert SUBJECT not in table and BODY not in table
    assert "[email subject hidden]" in table and "[email summary hidden]" in table
    assert POSTING in table and "A data team hiring" in table and "91" in table


def test_email_text_is_shown_when_redaction_is_off():
    table = _table(_frame(), ["title", "summary"], redact_email_text=False)
    assert SUBJECT in table and BODY in table and "hidden" not in table


def test_a_preview_without_text_columns_needs_no_kind():
    frame = pd.DataFrame({"partition_date": [DAY], "signals": [3]})
    assert "3" in _table(frame, ["partition_date", "signals"])


def _materialize_preview(tmp_path, **pipeline) -> str:
    (tmp_path / "emails.mbox").write_text(MBOX, encoding="utf-8")
    (tmp_path / "jobs.jsonl").write_text(json.dumps({"job_id": "7", "title": POSTING, "description": "dbt"}) + "\n")
    sources = {
        "sources": [
            {"name": "emails", "format": "mbox", "path": "emails.mbox", "import_date": DAY},
            {"name": "jobs", "format": "jsonl_jobs", "path": "jobs.jsonl", "import_date": DAY},
        ]
    }
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(sources))
    result = dg.materialize(
        [raw_signals],
        partition_key=DAY.isoformat(),
        resources={
            "duckdb": DuckDBWarehouse(database=str(tmp_path / "leadflow.duckdb")),
            "pipeline": PipelineSettings(
                sources_path=str(tmp_path / "sources.yaml"), imports_dir=str(tmp_path / "imports"), **pipeline
            ),
        },
    )
    metadata = result.asset_materializations_for_node("raw_signals")[0].metadata
    assert metadata["dagster/row_count"].value == 2
    return str(metadata["preview"].value)


def test_the_raw_signals_preview_hides_the_email_subject(tmp_path):
    table = _materialize_preview(tmp_path)
    assert SUBJECT not in table and "[email subject hidden]" in table and POSTING in table


def test_the_raw_signals_preview_shows_the_email_subject_when_redaction_is_off(tmp_path):
    table = _materialize_preview(tmp_path, redact_email_text=False)
    assert SUBJECT in table and POSTING in table
