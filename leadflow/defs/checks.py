"""Asset checks: quality gates on every stage. Blocking checks stop downstream assets."""

import json

import dagster as dg
import numpy as np
from dagster_duckdb import DuckDBResource

from leadflow.defs.partitions import check_dates
from leadflow.defs.resources import PipelineSettings
from leadflow.scoring.dossier_rules import SECTIONS

EMBEDDING_DIMS = 384
MAX_QUARANTINE_RATE = 0.25


@dg.asset_check(asset="raw_signals", blocking=True, description="No signal_id appears twice in the partitions.")
def raw_signals_unique_ids(context, duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        dupes = conn.execute(
            """SELECT count(*) FROM (SELECT signal_id FROM raw_signals WHERE partition_date = ANY(?::DATE[])
               GROUP BY signal_id HAVING count(*) > 1)""",
            [check_dates(context)],
        ).fetchone()[0]
    return dg.AssetCheckResult(passed=dupes == 0, metadata={"duplicate_ids": dupes})


@dg.asset_check(
    asset="raw_signals",
    description=f"Quarantined records stay below {MAX_QUARANTINE_RATE:.0%} of records read.",
)
def raw_signals_quarantine_rate(context, duckdb: DuckDBResource) -> dg.AssetCheckResult:
    dates = check_dates(context)
    with duckdb.get_connection() as conn:
        kept = conn.execute("SELECT count(*) FROM raw_signals WHERE partition_date = ANY(?::DATE[])", [dates]).fetchone()[0]
        quarantined = conn.execute(
            "SELECT count(*) FROM quarantined_signals WHERE partition_date = ANY(?::DATE[])", [dates]
        ).fetchone()[0]
    rate = quarantined / (kept + quarantined) if kept + quarantined else 0.0
    return dg.AssetCheckResult(
        passed=rate <= MAX_QUARANTINE_RATE,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"quarantine_rate": rate, "quarantined": quarantined, "signals": kept},
    )


@dg.asset_check(
    asset="signal_embeddings",
    blocking=True,
    description=f"Every signal has a finite, unit-norm, {EMBEDDING_DIMS}-dimensional embedding.",
)
def embeddings_valid(context, duckdb: DuckDBResource) -> dg.AssetCheckResult:
    dates = check_dates(context)
    with duckdb.get_connection() as conn:
        signals = conn.execute("SELECT count(*) FROM raw_signals WHERE partition_date = ANY(?::DATE[])", [dates]).fetchone()[0]
        vectors = conn.execute(
            "SELECT text_vec FROM signal_embeddings WHERE partition_date = ANY(?::DATE[])", [dates]
        ).df()["text_vec"]
    matrix = np.vstack(vectors.to_numpy()) if len(vectors) else np.zeros((0, EMBEDDING_DIMS))
    norms = np.linalg.norm(matrix, axis=1) if len(matrix) else np.ones(0)
    problems = []
    if len(matrix) != signals:
        problems.append(f"coverage {len(matrix)}/{signals}")
    if matrix.shape[1] != EMBEDDING_DIMS:
        problems.append(f"dimension {matrix.shape[1]}")
    if not np.isfinite(matrix).all():
        problems.append("non-finite values")
    if len(norms) and np.abs(norms - 1).max() > 1e-3:
        problems.append(f"norm off by {np.abs(norms - 1).max():.4f}")
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={"rows": len(matrix), "signals": signals, "problems": ", ".join(problems) or "none"},
    )


@dg.asset_check(
    asset="prefilter_scores",
    blocking=True,
    description="Scores lie in 0-100 and every bucket matches its score.",
)
def prefilter_scores_consistent(context, duckdb: DuckDBResource, pipeline: PipelineSettings) -> dg.AssetCheckResult:
    thresholds = pipeline.thresholds()
    with duckdb.get_connection() as conn:
        frame = conn.execute(
            "SELECT final_score, bucket FROM prefilter_scores WHERE partition_date = ANY(?::DATE[])",
            [check_dates(context)],
        ).df()
    out_of_range = int(((frame["final_score"] < 0) | (frame["final_score"] > 100)).sum())
    wrong_bucket = int(sum(thresholds.bucket(s) != b for s, b in zip(frame["final_score"], frame["bucket"])))
    return dg.AssetCheckResult(
        passed=out_of_range == 0 and wrong_bucket == 0,
        metadata={"rows": len(frame), "out_of_range": out_of_range, "wrong_bucket": wrong_bucket},
    )


@dg.asset_check(asset="dossiers", blocking=True, description="Every stored dossier has all required sections.")
def dossiers_complete(context, duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        stored = conn.execute(
            "SELECT dossier FROM dossiers WHERE dossier IS NOT NULL AND partition_date = ANY(?::DATE[])",
            [check_dates(context)],
        ).df()["dossier"]
    incomplete = sum(1 for raw in stored if any(not json.loads(raw).get(s) for s in SECTIONS))
    return dg.AssetCheckResult(passed=incomplete == 0, metadata={"dossiers": len(stored), "incomplete": incomplete})
