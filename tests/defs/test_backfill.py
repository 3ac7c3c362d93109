"""Backfills: a multi-day range is one run, empty days materialize with zero rows, and a backfill
killed midway resumes with zero repeated LLM calls and the same final rows."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

import pandas as pd

from leadflow.paths import PROJECT_ROOT
from tests.conftest import SMALL_MODEL, seed_embeddings
from tests.defs.conftest import IMPORT_DAY, make_workspace, range_run, table


def test_a_month_of_email_backfills_as_one_run_with_empty_days_at_zero(july_backfill):
    workspace = july_backfill
    assert workspace["result"].success
    assert len(workspace["runs"]) == 1  # one run for the whole range
    # Empty days included: a skipped day would fail the backfill.
    assert len(workspace["raw_signals_partitions"]) == 31
    raw = table(workspace, "raw_signals")
    emails = raw[raw["kind"] == "email"]
    assert len(emails) >= 5 and emails["partition_date"].dt.month.eq(7).all()
    metrics = table(workspace, "quality_metrics")
    assert len(metrics) == 31 and metrics["signals"].sum() == len(raw)
    assert (metrics["signals"] == 0).sum() >= 20
    published = table(workspace, "current_publications")
    assert len(published) == 31

    # Every email is analysed: type probabilities, grounded entities, a priority and a summary.
    analysis = table(workspace, "email_analysis").merge(emails[["signal_id", "text"]], on="signal_id")
    assert set(analysis["signal_id"]) == set(emails["signal_id"])
    rows: list[dict[Any, Any]] = analysis.to_dict("records")
    for row in rows:
        scores = json.loads(row["type_scores"])
        assert "employment" in scores and all(0 <= p <= 1 for p in scores.values())
        assert 0 <= row["priority"] <= 100 and row["summary"]
        for entity in json.loads(row["entities"]):
            assert row["text"][entity["start"] : entity["end"]] == entity["text"], entity
    # Email leads score from the analysis and say why.
    leads = table(workspace, "leads")
    email_leads = leads[leads["kind"] == "email"]
    assert len(email_leads) == len(emails)
    assert all(json.loads(reasons) for reasons in email_leads["reasons"])
    assert not email_leads["llm_used"].any()  # the analysis already asked the small model
    # The analysis's own LLM work (embeddings of its features, any extraction) is in the ledger.
    usage = table(workspace, "llm_usage")
    assert "email_analysis" in set(usage["stage"])
    assert usage.loc[usage["stage"] == "email_analysis", "requests"].sum() > 0


def _cached_answers(path) -> int:
    if not os.path.exists(path):
        return 0
    with sqlite3.connect(path, timeout=5) as conn:
        try:
            return conn.execute("SELECT count(*) FROM llm_cache WHERE kind = 'classification'").fetchone()[0]
        except sqlite3.OperationalError:  # table not created yet
            return 0


def test_a_killed_backfill_resumes_without_repeating_llm_calls(tmp_path, model_dir, golden_email_embeddings):
    first, last = (IMPORT_DAY - timedelta(days=2)).isoformat(), IMPORT_DAY.isoformat()
    home = tmp_path / "home"
    seed_embeddings(golden_email_embeddings, home / "llm_cache.sqlite")  # no answer cached yet
    workspace = make_workspace(tmp_path, model_dir, home / "llm_cache.sqlite", dossier_threshold=101)
    env = {
        **os.environ,
        "LEADFLOW_HOME": str(home),
        "LEADFLOW_MODEL_DIR": str(model_dir),
        "LEADFLOW_SOURCES_PATH": str(tmp_path / "sources.yaml"),
        "LEADFLOW_PROMPTS_DIR": str(workspace["prompts"]),
        "LEADFLOW_DOSSIER_MODEL": SMALL_MODEL,
        "LEADFLOW_DOSSIER_THRESHOLD": "101",
        "LEADFLOW_CACHE_PATH": str(home / "llm_cache.sqlite"),
        "LEADFLOW_DUCKDB_PATH": str(tmp_path / "leadflow.duckdb"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "leadflow.cli", "backfill", first, last],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while _cached_answers(home / "llm_cache.sqlite") < 3:
        assert process.poll() is None, "the backfill ended before it could be killed"
        assert time.monotonic() < deadline, "no LLM answer was cached in time"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # a crash: no cleanup, no finally blocks
    process.wait(timeout=30)
    answered_before_kill = _cached_answers(home / "llm_cache.sqlite")

    client = workspace["resources"]["llm"].client()
    with client.metrics.track() as recorder:
        resumed = range_run(workspace, first, last)
    assert resumed.success
    prefilter = [r for r in recorder.records if r.role == "prefilter" and not r.audit]  # audits re-ask hits
    misses = [r for r in prefilter if r.cache_tier is None and not r.coalesced]
    answered_after = _cached_answers(home / "llm_cache.sqlite")
    # Every answer the killed run obtained is served from the cache; only the rest reach the engine.
    assert sum(1 for r in prefilter if r.cache_tier == "sqlite") >= answered_before_kill
    assert len(misses) == answered_after - answered_before_kill
    resumed_leads = table(workspace, "leads")

    # An uninterrupted run over the same cache costs no LLM call and yields the same rows.
    fresh = make_workspace(tmp_path / "fresh", model_dir, home / "llm_cache.sqlite", dossier_threshold=101)
    with client.metrics.track() as recorder:
        assert range_run(fresh, first, last).success
    assert recorder.summary()["llm_calls"] == 0
    volatile = ["run_id", "cache_tier", "latency_s", "llm_calls", "tokens_in", "tokens_out"]
    pd.testing.assert_frame_equal(
        resumed_leads.drop(columns=volatile).reset_index(drop=True),
        table(fresh, "leads").drop(columns=volatile).reset_index(drop=True),
    )
