"""Materialization metadata: previews keep email subjects and text out by default (job postings
stay visible), the preview builder itself and the raw_signals materialization over real files;
the LLM figures keep one key set whether or not anything reached the engine (null where nothing
was measured); progress lines count cache answers apart from the engine's rate."""

import json
from datetime import date

import dagster as dg
import pandas as pd
import yaml

from leadflow.defs.assets.ingest import raw_signals
from leadflow.defs.metadata import LLM_FIGURES, Progress, llm_metadata, preview
from leadflow.defs.resources import DuckDBWarehouse, PipelineSettings
from leadflow.llm.metrics import CallRecord, MetricsRecorder, summarize

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


def _hit() -> CallRecord:
    return CallRecord(role="prefilter", template="classify_signal@v1", model="small", cache_tier="sqlite")


def _miss() -> CallRecord:
    return CallRecord(
        role="prefilter",
        template="classify_signal@v1",
        model="small",
        latency_s=0.8,
        completion_tokens=16,
        engine_calls=1,
    )


def test_llm_figures_keep_their_keys_when_every_request_is_a_cache_hit():
    hits, misses = llm_metadata(summarize([_hit(), _hit()])), llm_metadata(summarize([_hit(), _miss()]))
    assert (
        set(hits)
        == set(misses)
        == {f"llm/{key}" for key in LLM_FIGURES}
        | {
            "llm/models_loaded",
            "llm/cache_hits_by_tier",
            "llm/models",
        }
    )
    for key in ("tokens_per_s", "latency_p50_s", "latency_p95_s", "load_s", "invalid_rate"):
        assert isinstance(hits[f"llm/{key}"], dg.NullMetadataValue), key  # nothing measured: null, not 0
    assert misses["llm/tokens_per_s"].value == 20.0 and misses["llm/latency_p50_s"].value == 0.8
    assert hits["llm/cache_hit_rate"].value == 1.0 and hits["llm/llm_calls"].value == 0
    assert llm_metadata(summarize([]))["llm/cache_hit_rate"] == dg.MetadataValue.null()  # no request at all


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, line: str) -> None:
        self.lines.append(line)


def test_progress_counts_cached_answers_apart_from_the_engine_rate():
    recorder, log = MetricsRecorder(), _Log()
    progress = Progress(log, "prefilter LLM", 3, recorder, every_s=0)
    recorder.add(_hit())
    progress.advance()
    assert log.lines[-1] == "prefilter LLM: 1/3 (from cache: 1 requests; engine: 0 requests, 0.00/s; ETA n/a)"
    recorder.add(_miss())
    progress.advance()
    line = log.lines[-1]
    assert line.startswith("prefilter LLM: 2/3 (from cache: 1 requests; engine: 1 requests, ") and "ETA " in line
    recorder.add(_hit())
    progress.advance()
    assert log.lines[-1].endswith("; done)")
