"""The command line's output: the demo summary hides email subjects unless told otherwise."""

from datetime import date

import dagster as dg
import pandas as pd
import pytest

from leadflow.cli import print_summary
from leadflow.defs.resources import RESOURCE_CLASSES, DuckDBWarehouse, LLMResource, PipelineSettings, env_var
from leadflow.storage.publication import publish
from leadflow.storage.warehouse import write_version

DAY = date(2026, 11, 20)
SUBJECT = "Re: our merger terms, strictly confidential"
POSTING = "Senior Data Engineer (Python, dbt)"


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No leadflow setting from the environment; the data dir in a temporary folder."""
    for cls in RESOURCE_CLASSES.values():
        for info in cls.model_fields.values():
            if env_var(info):
                monkeypatch.delenv(env_var(info), raising=False)
    monkeypatch.setenv("LEADFLOW_HOME", str(tmp_path))
    return monkeypatch


def _summary(tmp_path, capsys, **pipeline) -> str:
    warehouse = DuckDBWarehouse(database=str(tmp_path / "leadflow.duckdb"))
    leads = pd.DataFrame(
        {
            "partition_date": [DAY, DAY],
            "signal_id": ["email-1", "job-1"],
            "kind": ["email", "job_posting"],
            "title": [SUBJECT, POSTING],
            "final_score": [91.0, 88.0],
            "bucket": ["red_hot", "red_hot"],
            "run_id": ["run-a", "run-a"],
        }
    )
    with warehouse.get_connection() as conn:
        write_version(conn, "prefilter_scores", [DAY], "run-a", leads)
        publish(conn, {DAY: "run-a"})
    defs = dg.Definitions(resources={"duckdb": warehouse, "pipeline": PipelineSettings(**pipeline)})
    client = LLMResource(backend="openai", base_urls="http://127.0.0.1:1", cache_path="off").client()
    print_summary(defs, client, [(DAY, DAY)], wall_s=1.0)
    return capsys.readouterr().out


def test_the_summary_hides_email_subjects_by_default(tmp_path, clean_env, capsys):
    out = _summary(tmp_path, capsys)
    assert SUBJECT not in out and "[email subject hidden]" in out
    assert POSTING in out  # job postings stay visible


def test_the_summary_shows_email_subjects_when_redaction_is_off(tmp_path, clean_env, capsys):
    out = _summary(tmp_path, capsys, redact_email_text=False)
    assert SUBJECT in out and POSTING in out and "hidden" not in out
