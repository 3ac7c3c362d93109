"""The command line's output: `doctor` against a real token-guarded server never prints the API
key (nor logs it), and the demo summary hides email subjects unless told otherwise."""

import logging
from datetime import date

import dagster as dg
import pandas as pd
import pytest

from leadflow.cli import main, print_summary
from leadflow.defs.resources import DuckDBWarehouse, LLMResource, PipelineSettings
from leadflow.storage.publication import publish
from leadflow.storage.warehouse import write_version
from tests.token_server import TokenServer

API_KEY = "sk-leadflow-test-0123456789abcdef"
DAY = date(2026, 11, 20)
SUBJECT = "Re: our merger terms, strictly confidential"
POSTING = "Senior Data Engineer (Python, dbt)"


@pytest.fixture
def clean_env(no_leadflow_env, tmp_path):
    """No leadflow setting from the environment; the data dir in a temporary folder."""
    no_leadflow_env.setenv("LEADFLOW_HOME", str(tmp_path))
    return no_leadflow_env


def _doctor(capsys, caplog) -> tuple[int, str]:
    with caplog.at_level(logging.DEBUG), pytest.raises(SystemExit) as exit_:
        main(["doctor", "--probe"])
    captured = capsys.readouterr()
    return int(exit_.value.code or 0), captured.out + captured.err + caplog.text


@pytest.mark.parametrize("configured", [API_KEY, "sk-a-wrong-key-fedcba9876543210"], ids=["right-key", "wrong-key"])
def test_doctor_never_prints_or_logs_the_api_key(clean_env, capsys, caplog, configured):
    with TokenServer(API_KEY) as server:
        clean_env.setenv("LEADFLOW_LLM_BACKEND", "openai")
        clean_env.setenv("LEADFLOW_LLM_BASE_URLS", server.url)
        clean_env.setenv("LEADFLOW_LLM_API_KEY", configured)
        clean_env.setenv("LEADFLOW_CACHE_PATH", "off")
        code, output = _doctor(capsys, caplog)
    assert code == 1
    assert server.authorizations and set(server.authorizations) == {f"Bearer {configured}"}  # it was sent
    if configured == API_KEY:
        assert "-> ok" in output and "FAILED: " in output and "the engine crashed" in output  # the probe's 500
    else:
        assert "401" in output and "invalid api key" in output
    assert configured not in output


def test_doctor_never_prints_a_redis_password(clean_env, capsys, caplog):
    password = "r3dis-pa55word"
    with TokenServer(API_KEY) as server:
        clean_env.setenv("LEADFLOW_LLM_BACKEND", "openai")
        clean_env.setenv("LEADFLOW_LLM_BASE_URLS", server.url)
        clean_env.setenv("LEADFLOW_LLM_API_KEY", API_KEY)
        clean_env.setenv("LEADFLOW_REDIS_URL", f"redis://:{password}@127.0.0.1:1/0")  # nothing listens on port 1
        _, output = _doctor(capsys, caplog)
    assert password not in output and API_KEY not in output


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
