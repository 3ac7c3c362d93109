"""Asset checks: the quality gates. Blocking checks stop downstream assets, so a version that
fails one is never published; the failed-check sensor then quarantines it and re-runs the
partition with the safe model profile. Metadata carries the measured values for the UI plots.
"""

import json
from collections import Counter
from datetime import timedelta

import dagster as dg
import numpy as np
from dagster_duckdb import DuckDBResource

from leadflow.defs.partitions import check_dates, daily_partitions
from leadflow.defs.resources import PipelineSettings
from leadflow.dossier.grounding import Evidence, check_dossier, icp_text
from leadflow.ingest.emails import KIND as EMAIL_KIND
from leadflow.ingest.jobs_jsonl import KIND as JOB_KIND
from leadflow.scoring.cascade import BUCKETS
from leadflow.scoring.icp import load_icp
from leadflow.storage.publication import published_versions, version_filter, working_versions
from leadflow.storage.warehouse import has_schema

DRIFT_BASELINE_DAYS = 14
DRIFT_MIN_BASELINE_ROWS = 20


def _count(conn, sql: str, params) -> int:
    return conn.execute(sql, params).fetchone()[0]


def _this_run(conn, context) -> tuple[str, list]:
    """SQL filter for the version this run wrote (or reads) in the checked partitions."""
    return version_filter(working_versions(conn, check_dates(context), context.run.run_id))


def psi(current: dict[str, int], baseline: dict[str, int]) -> float:
    """Population stability index between two bucket distributions."""
    eps = 1e-4
    cur_total, base_total = max(sum(current.values()), 1), max(sum(baseline.values()), 1)
    value = 0.0
    for bucket in BUCKETS:
        p = max(current.get(bucket, 0) / cur_total, eps)
        q = max(baseline.get(bucket, 0) / base_total, eps)
        value += (p - q) * np.log(p / q)
    return round(float(value), 4)


def bucket_drift(conn, context, versions_where: tuple[str, list]) -> tuple[float | None, dict]:
    """PSI of the checked version's buckets against the published trailing 14 days before it."""
    dates = check_dates(context)
    where, params = versions_where
    current = dict(
        conn.execute(f"SELECT bucket, count(*) FROM prefilter_scores WHERE {where} GROUP BY ALL", params).fetchall()
    )
    start = min(dates) - timedelta(days=DRIFT_BASELINE_DAYS)
    baseline = dict(
        conn.execute(
            "SELECT bucket, count(*) FROM leads WHERE partition_date >= ? AND partition_date < ? GROUP BY ALL",
            [start, min(dates)],
        ).fetchall()
    )
    meta = {"current": current, "baseline": baseline, "baseline_days": DRIFT_BASELINE_DAYS}
    if sum(baseline.values()) < DRIFT_MIN_BASELINE_ROWS or not current:
        return None, meta
    return psi(current, baseline), meta


@dg.asset_check(asset="raw_signals", blocking=True, description="No signal_id appears twice in the partitions.")
def raw_signals_unique_ids(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        dupes = _count(
            conn,
            """SELECT count(*) FROM (SELECT signal_id FROM raw_signals
                                WHERE partition_date = ANY(?::DATE[]) GROUP BY signal_id HAVING count(*) > 1)""",
            [check_dates(context)],
        )
    return dg.AssetCheckResult(passed=dupes == 0, metadata={"duplicate_ids": dupes})


@dg.asset_check(
    asset="raw_signals",
    blocking=True,
    description="Every signal sits in the partition of its own date, within the partitioned range.",
)
def raw_signals_dates_in_range(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        misplaced = _count(
            conn,
            """SELECT count(*) FROM raw_signals WHERE partition_date = ANY(?::DATE[])
                                    AND (signal_date <> partition_date OR signal_date < ? OR signal_date > current_date)""",
            [check_dates(context), daily_partitions.start.date()],
        )
    return dg.AssetCheckResult(passed=misplaced == 0, metadata={"misplaced": misplaced})


@dg.asset_check(
    asset="raw_signals",
    blocking=True,
    description="Quarantined records stay below max_quarantine_rate of the records read (a broken source fails).",
)
def raw_signals_quarantine_rate(
    context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource, pipeline: PipelineSettings
) -> dg.AssetCheckResult:
    dates = check_dates(context)
    with duckdb.get_connection() as conn:
        kept = _count(conn, "SELECT count(*) FROM raw_signals WHERE partition_date = ANY(?::DATE[])", [dates])
        quarantined = _count(
            conn, "SELECT count(*) FROM quarantined_signals WHERE partition_date = ANY(?::DATE[])", [dates]
        )
    rate = quarantined / (kept + quarantined) if kept + quarantined else 0.0
    return dg.AssetCheckResult(
        passed=rate <= pipeline.max_quarantine_rate,
        metadata={
            "quarantine_rate": rate,
            "quarantined": quarantined,
            "signals": kept,
            "max_quarantine_rate": pipeline.max_quarantine_rate,
        },
    )


@dg.asset_check(
    asset="raw_signals",
    blocking=True,
    description=(
        "Nothing read is lost: per source, records read = signals + quarantined + those of partitions "
        "outside the run, and the signals and quarantined records this run wrote are exactly those counted."
    ),
)
def raw_signals_counts_reconcile(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource) -> dg.AssetCheckResult:
    dates, run_id = check_dates(context), context.run.run_id
    with duckdb.get_connection() as conn:
        tallies = conn.execute(
            "SELECT source, records_read, signals, quarantined, elsewhere FROM source_counts WHERE run_id = ?",
            [run_id],
        ).fetchall()
        written = _count(
            conn,
            "SELECT count(*) FROM raw_signals WHERE partition_date = ANY(?::DATE[]) AND run_id = ?",
            [dates, run_id],
        )
        quarantined = _count(
            conn,
            "SELECT count(*) FROM quarantined_signals WHERE partition_date = ANY(?::DATE[]) AND run_id = ?",
            [dates, run_id],
        )
    unbalanced = [source for source, read, kept, rejected, elsewhere in tallies if read != kept + rejected + elsewhere]
    counted = (sum(t[2] for t in tallies), sum(t[3] for t in tallies))
    return dg.AssetCheckResult(
        passed=not unbalanced and counted == (written, quarantined),
        metadata={
            "records_read": sum(t[1] for t in tallies),
            "signals_counted": counted[0],
            "signals_written": written,
            "quarantined_counted": counted[1],
            "quarantined_written": quarantined,
            "elsewhere": sum(t[4] for t in tallies),
            "sources_unbalanced": dg.MetadataValue.json(unbalanced),
        },
    )


@dg.asset_check(
    asset="signal_embeddings",
    blocking=True,
    description=(
        "Every signal has a finite, unit-norm embedding of the dimension its model reports (one "
        "dimension throughout), full coverage."
    ),
)
def embeddings_valid(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource) -> dg.AssetCheckResult:
    dates = check_dates(context)
    with duckdb.get_connection() as conn:
        signals = _count(conn, "SELECT count(*) FROM raw_signals WHERE partition_date = ANY(?::DATE[])", [dates])
        stored = conn.execute(
            "SELECT dims, text_vec FROM signal_embeddings WHERE partition_date = ANY(?::DATE[])", [dates]
        ).df()
    vectors = [np.asarray(vector) for vector in stored["text_vec"]]
    # Every vector has the one dimension the rows' model reported (the embedder is configurable).
    dims = {int(d) for d in stored["dims"]} | {len(vector) for vector in vectors}
    norms = np.array([np.linalg.norm(vector) for vector in vectors])
    problems = []
    if len(vectors) != signals:
        problems.append(f"coverage {len(vectors)}/{signals}")
    if len(dims) > 1 or 0 in dims:
        problems.append(f"dimension {sorted(dims)}")
    if not all(np.isfinite(vector).all() for vector in vectors):
        problems.append("non-finite values")
    max_norm_error = float(np.abs(norms - 1).max()) if len(norms) else 0.0
    if max_norm_error > 1e-3:
        problems.append(f"norm off by {max_norm_error:.4f}")
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={
            "rows": len(vectors),
            "signals": signals,
            "max_norm_error": max_norm_error,
            "problems": ", ".join(problems) or "none",
        },
    )


@dg.asset_check(
    asset="prefilter_scores",
    blocking=True,
    description="The small model's answers validate for at least min_valid_output_rate of the signals it was asked about.",
)
def prefilter_valid_output_rate(
    context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource, pipeline: PipelineSettings
) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        where, params = _this_run(conn, context)
        asked, failed = conn.execute(
            f"SELECT count(*) FILTER (llm_used OR llm_error IS NOT NULL), count(*) FILTER (llm_error IS NOT NULL) "
            f"FROM prefilter_scores WHERE {where}",
            params,
        ).fetchone()
    rate = 1 - failed / asked if asked else 1.0
    return dg.AssetCheckResult(
        passed=rate >= pipeline.min_valid_output_rate,
        metadata={
            "valid_output_rate": rate,
            "asked": asked,
            "invalid": failed,
            "min_valid_output_rate": pipeline.min_valid_output_rate,
        },
    )


@dg.asset_check(
    asset="prefilter_scores", blocking=True, description="Scores lie in 0-100 and every bucket matches its score."
)
def prefilter_scores_consistent(
    context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource, pipeline: PipelineSettings
) -> dg.AssetCheckResult:
    thresholds = pipeline.thresholds()
    with duckdb.get_connection() as conn:
        where, params = _this_run(conn, context)
        frame = conn.execute(f"SELECT final_score, bucket FROM prefilter_scores WHERE {where}", params).df()
    out_of_range = int(((frame["final_score"] < 0) | (frame["final_score"] > 100)).sum())
    wrong_bucket = int(
        sum(thresholds.bucket(s) != b for s, b in zip(frame["final_score"], frame["bucket"], strict=True))
    )
    return dg.AssetCheckResult(
        passed=out_of_range == 0 and wrong_bucket == 0,
        metadata={"rows": len(frame), "out_of_range": out_of_range, "wrong_bucket": wrong_bucket},
    )


@dg.asset_check(
    asset="prefilter_scores",
    description=f"Bucket distribution drift (PSI) against the published trailing {DRIFT_BASELINE_DAYS} days; warns above psi_warn.",
)
def prefilter_bucket_drift(
    context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource, pipeline: PipelineSettings
) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        value, meta = bucket_drift(conn, context, _this_run(conn, context))
    return dg.AssetCheckResult(
        passed=value is None or value <= pipeline.psi_warn,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "psi": -1.0 if value is None else value,
            "psi_warn": pipeline.psi_warn,
            "distributions": dg.MetadataValue.json(meta),
        },
    )


def _golden_result(
    context: dg.AssetCheckExecutionContext,
    duckdb: DuckDBResource,
    pipeline: PipelineSettings,
    kind: str,
    judged_sql: str | None = None,
) -> dg.AssetCheckResult:
    """This run's held-out golden figures for one signal kind against the published version's:
    fails when F1 drops more than golden_tolerance. `judged_sql` counts the rows of that kind the
    run wrote (dates, run id): a run with none records no evaluation and has nothing to judge."""
    dates = check_dates(context)
    judged = 1
    kind_filter = "coalesce(kind, 'job_posting') = ?"  # rows written before kinds were recorded
    with duckdb.get_connection() as conn:
        current = (  # a database nobody wrote to holds no evaluation
            conn.execute(
                f"""SELECT model, prompt_version, precision, recall, f1 FROM golden_evaluations
                    WHERE run_id = ? AND {kind_filter} ORDER BY seq DESC LIMIT 1""",
                [context.run.run_id, kind],
            ).fetchone()
            if has_schema(conn)
            else None
        )
        published = set(published_versions(conn, dates).values())
        baseline = (
            conn.execute(
                f"""SELECT run_id, f1 FROM golden_evaluations
                    WHERE run_id IN (SELECT UNNEST(?::VARCHAR[])) AND {kind_filter} ORDER BY seq DESC LIMIT 1""",
                [sorted(published), kind],
            ).fetchone()
            if published
            else None
        )
        if current is None and judged_sql is not None and has_schema(conn):
            judged = _count(conn, judged_sql, [dates, context.run.run_id])
    if current is None and not judged:
        return dg.AssetCheckResult(passed=True, metadata={"kind": kind, "note": f"no {kind} in these partitions"})
    if current is None:
        return dg.AssetCheckResult(
            passed=False, metadata={"problem": f"no {kind} golden evaluation recorded by this run"}
        )
    model, prompt_version, precision, recall, f1 = current
    baseline_f1 = baseline[1] if baseline else None
    passed = baseline_f1 is None or f1 >= baseline_f1 - pipeline.golden_tolerance
    return dg.AssetCheckResult(
        passed=passed,
        metadata={
            "kind": kind,
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "model": model,
            "prompt_version": prompt_version or "none",
            "baseline_f1": -1.0 if baseline_f1 is None else baseline_f1,
            "golden_tolerance": pipeline.golden_tolerance,
        },
    )


@dg.asset_check(
    asset="prefilter_scores",
    blocking=True,
    description=(
        "Job postings: held-out precision/recall of the whole cascade on the labelled golden set "
        "(head trained out-of-fold), per model and prompt version; fails when F1 drops more than "
        "golden_tolerance below the last published version's."
    ),
)
def prefilter_golden_set(
    context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource, pipeline: PipelineSettings
) -> dg.AssetCheckResult:
    return _golden_result(context, duckdb, pipeline, JOB_KIND)


@dg.asset_check(
    asset="email_analysis",
    blocking=True,
    description=(
        "Emails: held-out (nested cross-validation) precision/recall/F1 of the email typing on the "
        "labelled email golden set, every type recorded; fails when the employment F1 drops more "
        "than golden_tolerance below the last published version's."
    ),
)
def email_golden_set(
    context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource, pipeline: PipelineSettings
) -> dg.AssetCheckResult:
    judged = "SELECT count(*) FROM email_analysis WHERE partition_date = ANY(?::DATE[]) AND run_id = ?"
    return _golden_result(context, duckdb, pipeline, EMAIL_KIND, judged)


@dg.asset_check(
    asset="dossiers",
    blocking=True,
    description=(
        "Every stored dossier is grounded: all six sections present; every named entity and number "
        "appears in its signals; icp_fit agrees with the bucket; no verbatim run of 12+ words from "
        "a signal; nothing taken from the ICP text; the company named whenever the signal names it; "
        "citations point at the text they quote."
    ),
)
def dossiers_valid(
    context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource, pipeline: PipelineSettings
) -> dg.AssetCheckResult:
    icp = icp_text(load_icp(pipeline.icp_file()))
    with duckdb.get_connection() as conn:
        where, params = _this_run(conn, context)
        stored = conn.execute(
            f"SELECT partition_date, signal_id, dossier, evidence FROM dossiers WHERE {where} AND dossier IS NOT NULL",
            params,
        ).fetchall()
        texts = dict(
            conn.execute(
                """SELECT signal_id, text FROM raw_signals WHERE partition_date = ANY(?::DATE[])""",
                [sorted({row[0] for row in stored})],
            ).fetchall()
        )
    bad: dict[str, str] = {}
    kinds: Counter[str] = Counter()
    for _, signal_id, raw, raw_evidence in stored:
        recorded = json.loads(raw_evidence)
        evidence = Evidence(
            signals={sid: texts.get(sid, "") for sid in recorded["signal_ids"]},
            names=tuple(recorded["names"]),
            bucket=recorded["bucket"],
            scores=tuple(recorded["scores"]),
            company=recorded["company"],
            hired_roles=tuple(recorded["hired_roles"]),
            icp=icp,
        )
        defects = check_dossier(json.loads(raw), evidence)
        kinds.update(d.kind for d in defects)
        if defects:
            bad[signal_id] = "; ".join(str(d) for d in defects)
    return dg.AssetCheckResult(
        passed=not bad,
        metadata={
            "dossiers": len(stored),
            "with_defects": len(bad),
            "defect_free_rate": round(1 - len(bad) / len(stored), 4) if stored else 1.0,
            "defects_by_kind": dg.MetadataValue.json(dict(kinds)),
            "examples": dg.MetadataValue.json(dict(list(bad.items())[:5])),
        },
    )


@dg.asset_check(
    asset="quality_metrics",
    blocking=True,
    description="The share of LLM outputs that failed validation stays below max_error_rate (from error_rate_min_outputs outputs on).",
)
def quality_error_rate(
    context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource, pipeline: PipelineSettings
) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        invalid, outputs = conn.execute(
            """SELECT coalesce(sum(invalid_outputs), 0), coalesce(sum(llm_classified + dossiers + dossier_errors), 0)
               FROM quality_metrics WHERE partition_date = ANY(?::DATE[])""",
            [check_dates(context)],
        ).fetchone()
    rate = invalid / outputs if outputs else 0.0
    # One rejected dossier among three outputs is not a trend: the rate gates from a sample size on.
    judged = outputs >= pipeline.error_rate_min_outputs
    return dg.AssetCheckResult(
        passed=not judged or rate <= pipeline.max_error_rate,
        metadata={
            "error_rate": float(rate),
            "invalid_outputs": int(invalid),
            "outputs": int(outputs),
            "max_error_rate": pipeline.max_error_rate,
            "judged": judged,
        },
    )


@dg.asset_check(
    asset="published_leads",
    description=(
        "Post-publish gate: PSI of the published buckets against the trailing 14 published days "
        "stays below psi_rollback; on failure the failed-check sensor rolls the partition back."
    ),
)
def published_leads_drift_gate(
    context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource, pipeline: PipelineSettings
) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        value, meta = bucket_drift(conn, context, version_filter(published_versions(conn, check_dates(context))))
    return dg.AssetCheckResult(
        passed=value is None or value <= pipeline.psi_rollback,
        metadata={
            "psi": -1.0 if value is None else value,
            "psi_rollback": pipeline.psi_rollback,
            "distributions": dg.MetadataValue.json(meta),
        },
    )
