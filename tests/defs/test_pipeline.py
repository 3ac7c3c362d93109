"""End to end: all five assets over a small real slice, on the embedded engine and real DuckDB."""

import json
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml
from dagster_duckdb import DuckDBResource

from leadflow.defs.assets.dossiers import dossiers
from leadflow.defs.assets.embeddings import signal_embeddings
from leadflow.defs.assets.ingest import raw_signals
from leadflow.defs.assets.prefilter import prefilter_scores
from leadflow.defs.assets.publish import published_leads
from leadflow.defs.assets.quality import quality_metrics
from leadflow.defs import checks
from leadflow.defs.resources import LLMResource, PipelineSettings
from leadflow.paths import PROJECT_ROOT
from leadflow.scoring.cascade import BUCKETS
from leadflow.scoring.dossier_rules import SECTIONS
from tests.conftest import SMALL_MODEL

IMPORT_DAY = date(2026, 11, 20)
SAMPLES = PROJECT_ROOT / "resources" / "samples"
# ICP positives from the golden set plus ordinary postings: enough to exercise every stage.
JOB_IDS = {"126", "39", "218"}
ASSETS = [raw_signals, signal_embeddings, prefilter_scores, dossiers, quality_metrics, published_leads]
CHECKS = dg.load_asset_checks_from_modules([checks])


def _slice_jobs(target: Path) -> int:
    golden = [json.loads(line) for line in (PROJECT_ROOT / "resources/golden/golden_100.jsonl").read_text().splitlines()]
    wanted = {g["job_id"] for g in golden if g["is_icp"]} | JOB_IDS
    lines = [line for line in (SAMPLES / "jobs_sample.jsonl").read_text().splitlines() if json.loads(line)["job_id"] in wanted]
    others = [line for line in (SAMPLES / "jobs_sample.jsonl").read_text().splitlines() if json.loads(line)["job_id"] not in wanted]
    chosen = lines[:6] + others[:6]
    target.write_text("\n".join(chosen) + "\n")
    return len(chosen)


def _slice_mbox(target: Path, messages: int) -> None:
    out, count = [], 0
    for line in (SAMPLES / "enron_sample.mbox").read_text(encoding="utf-8", errors="replace").splitlines(keepends=True):
        if line.startswith("From "):
            count += 1
            if count > messages:
                break
        out.append(line)
    target.write_text("".join(out), encoding="utf-8")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, model_dir):
    root = tmp_path_factory.mktemp("pipeline")
    jobs = _slice_jobs(root / "jobs.jsonl")
    _slice_mbox(root / "emails.mbox", 12)
    sources = {"sources": [
        {"name": "jobs", "format": "jsonl_jobs", "path": str(root / "jobs.jsonl"), "import_date": IMPORT_DAY},
        {"name": "emails", "format": "mbox", "path": str(root / "emails.mbox"), "import_date": IMPORT_DAY},
        {"name": "accounts", "format": "csv_accounts", "path": str(SAMPLES / "crunchbase_sample.csv"),
         "import_date": IMPORT_DAY, "limit": 12},
    ]}
    (root / "sources.yaml").write_text(yaml.safe_dump(sources))
    resources = {
        "duckdb": DuckDBResource(database=str(root / "leadflow.duckdb")),
        "llm": LLMResource(
            model_dir=str(model_dir),
            cache_path=str(root / "llm_cache.sqlite"),
            dossier_model=SMALL_MODEL,  # the 1.5B writer is kept out of the test run (notes: ~22 s/dossier)
        ),
        "pipeline": PipelineSettings(sources_path=str(root / "sources.yaml"), dossier_threshold=65),
    }
    return {"root": root, "resources": resources, "jobs": jobs}


def _materialize(workspace, partition: str):
    return dg.materialize(
        [*ASSETS, *CHECKS],
        partition_key=partition,
        resources=workspace["resources"],
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def _table(workspace, name: str) -> pd.DataFrame:
    with workspace["resources"]["duckdb"].get_connection() as conn:
        return conn.execute(f"SELECT * FROM {name} ORDER BY ALL").df()


@pytest.fixture(scope="module")
def first_run(workspace):
    client = workspace["resources"]["llm"].client()
    with client.metrics.track() as recorder:
        result = _materialize(workspace, IMPORT_DAY.isoformat())
    return result, recorder.summary()


def test_pipeline_materializes_every_stage_with_real_content(workspace, first_run):
    result, llm = first_run
    assert result.success
    failed_checks = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
    assert failed_checks == []

    raw = _table(workspace, "raw_signals")
    quarantined = _table(workspace, "quarantined_signals")
    assert set(raw["kind"]) == {"job_posting", "account"}  # the emails are dated 1997-2002
    assert (raw["kind"] == "job_posting").sum() == workspace["jobs"]
    assert len(raw) + len(quarantined[quarantined["source"] == "accounts"]) >= workspace["jobs"] + 12 - 1

    assert len(_table(workspace, "prefilter_scores")["run_id"].unique()) == 1  # one version so far
    scores = _table(workspace, "leads")  # the published version
    assert len(scores) == len(raw)
    assert scores["final_score"].between(0, 100).all()
    thresholds = workspace["resources"]["pipeline"].thresholds()
    assert all(thresholds.bucket(s) == b for s, b in zip(scores["final_score"], scores["bucket"]))
    assert set(scores["bucket"]) <= set(BUCKETS)
    assert scores["llm_used"].any(), "the small model classified at least one candidate"
    classified = scores[scores["llm_used"]]
    assert classified["llm_score"].between(0, 100).all()
    assert classified["role_function"].notna().all()

    written = _table(workspace, "published_dossiers")
    good = written[written["dossier"].notna()]
    assert len(good) >= 1
    for raw_dossier in good["dossier"]:
        dossier = json.loads(raw_dossier)
        assert all(dossier[section] for section in SECTIONS)
    assert set(written["signal_id"]) <= set(scores.loc[scores["final_score"] >= 65, "signal_id"])

    metrics = _table(workspace, "quality_metrics")
    day = metrics[metrics["partition_date"] == pd.Timestamp(IMPORT_DAY)].iloc[0]
    assert day["signals"] == len(raw)
    assert day["quarantined"] == len(quarantined)
    assert day["scored"] == len(scores)
    assert day["dossiers"] == len(good)
    assert sum(json.loads(day["buckets"]).values()) == len(scores)
    assert json.loads(day["llm"])["llm_calls"] == int(scores["llm_calls"].sum() + written["llm_calls"].sum())
    assert llm["llm_calls"] > 0 and llm["requests"] == llm["cache_hits"] + llm["coalesced"] + llm["misses"]


def test_rematerializing_yields_same_rows_and_no_llm_calls(workspace, first_run):
    before = {name: _table(workspace, name).drop(columns=["run_id"]) for name in
              ("raw_signals", "quarantined_signals", "leads", "published_dossiers")}
    client = workspace["resources"]["llm"].client()
    with client.metrics.track() as recorder:
        result = _materialize(workspace, IMPORT_DAY.isoformat())
    assert result.success
    # Every answer that validated is served from the cache. Output that failed validation is
    # never cached, so only those requests are asked again (first try + one repair each).
    failed = int(before["published_dossiers"]["error"].notna().sum())
    summary = recorder.summary()
    assert summary["llm_calls"] == 2 * failed
    assert summary["cache_hits"] == summary["requests"] - failed
    for name, frame in before.items():
        after = _table(workspace, name).drop(columns=["run_id"])
        volatile = [c for c in ("cache_tier", "latency_s", "llm_calls", "tokens_in", "tokens_out") if c in after]
        pd.testing.assert_frame_equal(frame.drop(columns=volatile), after.drop(columns=volatile))
    # The re-run is a new version, published in place of the first; the first is kept.
    assert len(_table(workspace, "prefilter_scores")["run_id"].unique()) == 2
    history = _table(workspace, "publications")
    assert list(history["action"]) == ["publish", "publish"] and history["prev_run_id"].iloc[1] == history["run_id"].iloc[0]


def test_empty_partition_materializes_with_zero_rows(workspace, first_run):
    result = _materialize(workspace, "2026-11-01")
    assert result.success
    counts = [
        m.metadata["dagster/row_count"].value
        for m in result.get_asset_materialization_events()
        for m in [m.materialization]
        if m.asset_key.path[0] != "quality_metrics"
    ]
    assert counts == [0, 0, 0, 0, 0]
