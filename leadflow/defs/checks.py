"""Asset checks: the quality gates, one evaluation per day. Every check is partition-aware
(Dagster's `partitions_def` on asset checks), so a run over a range records an evaluation for
each day it covered, naming the day, instead of one result for the range and a Skipped row per
day. Invariants (unique ids, placement, embeddings, score/bucket agreement, grounded dossiers)
and the golden sets (against the version published for that day) are judged day by day; rates
and distributions (quarantine, valid outputs, error rate, drift) and the per-run source tallies
are judged on the run's days together (one small day is no trend), each day's evaluation saying
so and carrying its own figures too. Blocking checks stop downstream assets, so a version that
fails one is never published; the failed-check sensor then quarantines the failed days and
re-runs with the safe model profile. Metadata carries the measured values for the UI plots; a
value nothing measured (no baseline, no dossier) is null, never a placeholder number.
"""

import json
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, cast

import dagster as dg
import numpy as np
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
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

Evaluations = Iterator[dg.AssetCheckEvaluation | dg.Output]


def daily_check(
    *, asset: str, description: str, blocking: bool = False
) -> Callable[[Callable[..., Evaluations]], dg.AssetChecksDefinition]:
    """An asset check of the daily partitions whose function yields `judged(...)`: one
    evaluation per day (Dagster's typing expects a single AssetCheckResult, which covers one
    partition at most)."""

    def decorate(fn: Callable[..., Evaluations]) -> dg.AssetChecksDefinition:
        with warnings.catch_warnings():
            # Partitioned checks are a Preview feature of the pinned Dagster 1.13: known, not news.
            warnings.simplefilter("ignore", dg.PreviewWarning)
            decorator = dg.asset_check(
                asset=asset, description=description, blocking=blocking, partitions_def=daily_partitions
            )
            return decorator(cast(Callable[..., dg.AssetCheckResult], fn))

    return decorate


@dataclass(frozen=True)
class Verdict:
    """One day's outcome and the figures it rests on."""

    passed: bool
    metadata: Mapping[str, Any]


def _targets(
    context: dg.AssetCheckExecutionContext, asset_key: dg.AssetKey, keys: list[str]
) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """The latest materialization of each partition: an evaluation that names it is the
    partition's current check status in the UI (one that does not is shown as outdated)."""
    storage = context.instance.event_log_storage
    latest = storage.get_latest_storage_id_by_partition(
        asset_key, dg.DagsterEventType.ASSET_MATERIALIZATION, partitions=set(keys)
    )
    if not latest:
        return {}
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, storage_ids=list(latest.values())), limit=len(latest)
    ).records
    return {
        record.partition_key: AssetCheckEvaluationTargetMaterializationData(
            storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp
        )
        for record in records
        if record.partition_key is not None
    }


def judged(
    context: dg.AssetCheckExecutionContext,
    verdicts: Mapping[date, Verdict],
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
) -> Evaluations:
    """One evaluation per day of the run, then the check's output (what the steps downstream of
    a blocking check wait for). A failed blocking ERROR evaluation still fails the step."""
    (spec,) = context.check_specs
    keys = list(context.partition_keys)
    targets = _targets(context, spec.asset_key, keys)
    for key in keys:
        verdict = verdicts[date.fromisoformat(key)]
        yield dg.AssetCheckEvaluation(
            asset_key=spec.asset_key,
            check_name=spec.name,
            passed=verdict.passed,
            metadata=dict(verdict.metadata),
            severity=severity,
            blocking=spec.blocking,
            partition=key,
            target_materialization_data=targets.get(key),
        )
    yield dg.Output(None, output_name=context.op_def.output_defs[0].name)


def _by_day(conn, sql: str, params) -> dict[date, Any]:
    """`SELECT partition_date, value ...` as {day: value} (DuckDB returns DATE as a date)."""
    return dict(conn.execute(sql, params).fetchall())


def _this_run(conn, context) -> tuple[str, list]:
    """SQL filter for the version this run wrote (or reads) in the checked partitions."""
    return version_filter(working_versions(conn, check_dates(context), context.run.run_id))


def run_verdicts(
    dates: list[date], passed: bool, run: Mapping[str, Any], days: Mapping[date, Mapping[str, Any]]
) -> dict[date, Verdict]:
    """The run's verdict on each of its days, for a rate or a distribution: judged on the run's
    days together, as one small day (one empty email of two) is no trend. Each day's evaluation
    carries the figures that decided, what was judged, and the day's own figures (`day/...`)."""
    scope = (
        "this partition" if len(dates) == 1 else f"the run's {len(dates)} partitions together ({dates[0]}..{dates[-1]})"
    )
    return {
        day: Verdict(passed, {"judged": scope, **run, **{f"day/{key}": value for key, value in days[day].items()}})
        for day in dates
    }


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


def bucket_drift(conn, dates: list[date], versions_where: tuple[str, list]) -> tuple[float | None, dict, dict]:
    """PSI of the checked version's buckets over the run's days against the published trailing
    14 days before them (None: no rows, or too small a baseline), both distributions, and the
    rows of each day."""
    where, params = versions_where
    current: Counter[str] = Counter()
    rows = {day: 0 for day in dates}
    for day, bucket, n in conn.execute(
        f"SELECT partition_date, bucket, count(*) FROM prefilter_scores WHERE {where} GROUP BY ALL", params
    ).fetchall():
        current[bucket] += n
        rows[day] += n
    start = min(dates) - timedelta(days=DRIFT_BASELINE_DAYS)
    baseline = dict(
        conn.execute(
            "SELECT bucket, count(*) FROM leads WHERE partition_date >= ? AND partition_date < ? GROUP BY ALL",
            [start, min(dates)],
        ).fetchall()
    )
    meta = {"current": dict(current), "baseline": baseline, "baseline_days": DRIFT_BASELINE_DAYS}
    if sum(baseline.values()) < DRIFT_MIN_BASELINE_ROWS or not current:
        return None, meta, rows
    return psi(dict(current), baseline), meta, rows


@daily_check(asset="raw_signals", blocking=True, description="No signal_id appears twice in the run's partitions.")
def raw_signals_unique_ids(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource) -> Evaluations:
    dates = check_dates(context)
    with duckdb.get_connection() as conn:
        dupes = _by_day(
            conn,
            """SELECT partition_date, count(DISTINCT signal_id) FROM raw_signals
               WHERE partition_date = ANY(?::DATE[]) AND signal_id IN (
                   SELECT signal_id FROM raw_signals WHERE partition_date = ANY(?::DATE[])
                   GROUP BY signal_id HAVING count(*) > 1)
               GROUP BY ALL""",
            [dates, dates],
        )
    # A day's duplicates: its ids that appear more than once anywhere in the run's partitions.
    yield from judged(
        context,
        {day: Verdict(not dupes.get(day), {"duplicate_ids": dupes.get(day, 0)}) for day in dates},
    )


@daily_check(
    asset="raw_signals",
    blocking=True,
    description="Every signal sits in the partition of its own date, within the partitioned range.",
)
def raw_signals_dates_in_range(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource) -> Evaluations:
    dates = check_dates(context)
    with duckdb.get_connection() as conn:
        misplaced = _by_day(
            conn,
            """SELECT partition_date, count(*) FROM raw_signals WHERE partition_date = ANY(?::DATE[])
               AND (signal_date <> partition_date OR signal_date < ? OR signal_date > current_date) GROUP BY ALL""",
            [dates, daily_partitions.start.date()],
        )
    yield from judged(
        context, {day: Verdict(not misplaced.get(day), {"misplaced": misplaced.get(day, 0)}) for day in dates}
    )


@daily_check(
    asset="raw_signals",
    blocking=True,
    description=(
        "Quarantined records stay below max_quarantine_rate of the records read over the run's days "
        "(a broken source fails)."
    ),
)
def raw_signals_quarantine_rate(
    context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource, pipeline: PipelineSettings
) -> Evaluations:
    dates = check_dates(context)
    with duckdb.get_connection() as conn:
        kept = _by_day(
            conn,
            "SELECT partition_date, count(*) FROM raw_signals WHERE partition_date = ANY(?::DATE[]) GROUP BY ALL",
            [dates],
        )
        quarantined = _by_day(
            conn,
            "SELECT partition_date, count(*) FROM quarantined_signals WHERE partition_date = ANY(?::DATE[]) GROUP BY ALL",
            [dates],
        )
    signals, rejected = sum(kept.values()), sum(quarantined.values())
    rate = rejected / (signals + rejected) if signals + rejected else None  # nothing read: nothing to judge
    yield from judged(
        context,
        run_verdicts(
            dates,
            rate is None or rate <= pipeline.max_quarantine_rate,
            {
                "quarantine_rate": rate,
                "quarantined": rejected,
                "signals": signals,
                "max_quarantine_rate": pipeline.max_quarantine_rate,
            },
            {day: {"signals": kept.get(day, 0), "quarantined": quarantined.get(day, 0)} for day in dates},
        ),
    )


@daily_check(
    asset="raw_signals",
    blocking=True,
    description=(
        "Nothing read is lost: per source, records read = signals + quarantined + those of partitions "
        "outside the run (of those, the ones the ingest index skipped unparsed), and the signals and "
        "quarantined records this run wrote are exactly those counted. "
        "Sources are tallied per run, so every day of a run shares the run's verdict."
    ),
)
def raw_signals_counts_reconcile(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource) -> Evaluations:
    dates, run_id = check_dates(context), context.run.run_id
    with duckdb.get_connection() as conn:
        tallies = conn.execute(
            "SELECT source, records_read, signals, quarantined, elsewhere, coalesce(skipped, 0) FROM source_counts "
            "WHERE run_id = ?",
            [run_id],
        ).fetchall()
        written = _by_day(
            conn,
            "SELECT partition_date, count(*) FROM raw_signals WHERE partition_date = ANY(?::DATE[]) AND run_id = ? "
            "GROUP BY ALL",
            [dates, run_id],
        )
        quarantined = _by_day(
            conn,
            "SELECT partition_date, count(*) FROM quarantined_signals WHERE partition_date = ANY(?::DATE[]) "
            "AND run_id = ? GROUP BY ALL",
            [dates, run_id],
        )
    unbalanced = [
        source
        for source, read, kept, rejected, elsewhere, skipped in tallies
        if read != kept + rejected + elsewhere or skipped > elsewhere
    ]
    counted = (sum(t[2] for t in tallies), sum(t[3] for t in tallies))
    totals = (sum(written.values()), sum(quarantined.values()))
    run = {
        "records_read": sum(t[1] for t in tallies),
        "signals_counted": counted[0],
        "signals_written": totals[0],
        "quarantined_counted": counted[1],
        "quarantined_written": totals[1],
        "elsewhere": sum(t[4] for t in tallies),
        "skipped": sum(t[5] for t in tallies),
        "sources_unbalanced": dg.MetadataValue.json(unbalanced),
    }
    days = {
        day: {"signals_written": written.get(day, 0), "quarantined_written": quarantined.get(day, 0)} for day in dates
    }
    yield from judged(context, run_verdicts(dates, not unbalanced and counted == totals, run, days))


@daily_check(
    asset="signal_embeddings",
    blocking=True,
    description=(
        "Every signal has a finite, unit-norm embedding of the dimension its model reports (one "
        "dimension throughout), full coverage."
    ),
)
def embeddings_valid(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource) -> Evaluations:
    dates = check_dates(context)
    with duckdb.get_connection() as conn:
        signals = _by_day(
            conn,
            "SELECT partition_date, count(*) FROM raw_signals WHERE partition_date = ANY(?::DATE[]) GROUP BY ALL",
            [dates],
        )
        stored = conn.execute(
            "SELECT partition_date, dims, text_vec FROM signal_embeddings WHERE partition_date = ANY(?::DATE[])",
            [dates],
        ).fetchall()
    # The one dimension every vector has (the rows' model reports it: the embedder is configurable).
    dims_seen = {int(d) for _, d, _ in stored} | {len(vector) for _, _, vector in stored}
    by_day: dict[date, list[np.ndarray]] = {day: [] for day in dates}
    for day, _, vector in stored:
        by_day[day].append(np.asarray(vector))
    verdicts = {}
    for day in dates:
        vectors = by_day[day]
        norms = np.array([np.linalg.norm(vector) for vector in vectors])
        problems = []
        if len(vectors) != signals.get(day, 0):
            problems.append(f"coverage {len(vectors)}/{signals.get(day, 0)}")
        if vectors and (len(dims_seen) > 1 or 0 in dims_seen):
            problems.append(f"dimension {sorted(dims_seen)}")
        if not all(np.isfinite(vector).all() for vector in vectors):
            problems.append("non-finite values")
        max_norm_error = float(np.abs(norms - 1).max()) if len(norms) else None
        if max_norm_error is not None and max_norm_error > 1e-3:
            problems.append(f"norm off by {max_norm_error:.4f}")
        verdicts[day] = Verdict(
            not problems,
            {
                "rows": len(vectors),
                "signals": signals.get(day, 0),
                "max_norm_error": max_norm_error,
                "problems": ", ".join(problems) or "none",
            },
        )
    yield from judged(context, verdicts)


@daily_check(
    asset="prefilter_scores",
    blocking=True,
    description=(
        "The small model's answers validate for at least min_valid_output_rate of the signals it was "
        "asked about over the run's days."
    ),
)
def prefilter_valid_output_rate(
    context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource, pipeline: PipelineSettings
) -> Evaluations:
    with duckdb.get_connection() as conn:
        where, params = _this_run(conn, context)
        counts = {
            day: (asked, failed)
            for day, asked, failed in conn.execute(
                f"SELECT partition_date, count(*) FILTER (llm_used OR llm_error IS NOT NULL), "
                f"count(*) FILTER (llm_error IS NOT NULL) FROM prefilter_scores WHERE {where} GROUP BY ALL",
                params,
            ).fetchall()
        }
    dates = check_dates(context)
    asked, failed = sum(n for n, _ in counts.values()), sum(n for _, n in counts.values())
    rate = 1 - failed / asked if asked else None  # nobody asked: nothing to judge
    yield from judged(
        context,
        run_verdicts(
            dates,
            rate is None or rate >= pipeline.min_valid_output_rate,
            {
                "valid_output_rate": rate,
                "asked": asked,
                "invalid": failed,
                "min_valid_output_rate": pipeline.min_valid_output_rate,
            },
            {day: dict(zip(("asked", "invalid"), counts.get(day, (0, 0)), strict=True)) for day in dates},
        ),
    )


@daily_check(
    asset="prefilter_scores", blocking=True, description="Scores lie in 0-100 and every bucket matches its score."
)
def prefilter_scores_consistent(
    context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource, pipeline: PipelineSettings
) -> Evaluations:
    thresholds = pipeline.thresholds()
    with duckdb.get_connection() as conn:
        where, params = _this_run(conn, context)
        rows = conn.execute(
            f"SELECT partition_date, final_score, bucket FROM prefilter_scores WHERE {where}", params
        ).fetchall()
    tally = {day: Counter[str]() for day in check_dates(context)}
    for day, score, bucket in rows:
        counts = tally[day]
        counts["rows"] += 1
        counts["out_of_range"] += not 0 <= score <= 100
        counts["wrong_bucket"] += thresholds.bucket(score) != bucket
    yield from judged(
        context,
        {
            day: Verdict(
                counts["out_of_range"] == 0 and counts["wrong_bucket"] == 0,
                {key: counts[key] for key in ("rows", "out_of_range", "wrong_bucket")},
            )
            for day, counts in tally.items()
        },
    )


def _drift_verdicts(
    dates: list[date], drift: tuple[float | None, dict, dict], limit_name: str, limit: float
) -> dict[date, Verdict]:
    """PSI within `limit` passes; without a PSI (no rows, small baseline) there is nothing to judge."""
    value, meta, rows = drift
    run = {"psi": value, limit_name: limit, "distributions": dg.MetadataValue.json(meta)}
    return run_verdicts(dates, value is None or value <= limit, run, {day: {"rows": rows[day]} for day in dates})


@daily_check(
    asset="prefilter_scores",
    description=(
        f"Bucket distribution drift (PSI) of the run's days against the {DRIFT_BASELINE_DAYS} published days "
        "before them; warns above psi_warn."
    ),
)
def prefilter_bucket_drift(
    context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource, pipeline: PipelineSettings
) -> Evaluations:
    dates = check_dates(context)
    with duckdb.get_connection() as conn:
        drift = bucket_drift(conn, dates, _this_run(conn, context))
    yield from judged(context, _drift_verdicts(dates, drift, "psi_warn", pipeline.psi_warn), dg.AssetCheckSeverity.WARN)


def _golden_verdicts(
    context: dg.AssetCheckExecutionContext,
    duckdb: DuckDBResource,
    pipeline: PipelineSettings,
    kind: str,
    judged_sql: str | None = None,
) -> dict[date, Verdict]:
    """This run's held-out golden figures for one signal kind against those of the version
    published for each day: a day fails when F1 drops more than golden_tolerance. `judged_sql`
    counts per day the rows of that kind the run wrote (dates, run id): a day with none has
    nothing to judge, and a run with none records no evaluation."""
    dates, run_id = check_dates(context), context.run.run_id
    kind_filter = "coalesce(kind, 'job_posting') = ?"  # rows written before kinds were recorded
    with duckdb.get_connection() as conn:
        if not has_schema(conn):  # a database nobody wrote to holds no evaluation
            return {
                day: Verdict(False, {"problem": f"no {kind} golden evaluation recorded by this run"}) for day in dates
            }
        latest = f"""SELECT run_id, model, prompt_version, precision, recall, f1, report FROM golden_evaluations
                     WHERE run_id IN (SELECT UNNEST(?::VARCHAR[])) AND {kind_filter}
                     QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY seq DESC) = 1"""
        published = published_versions(conn, dates)
        evaluations = {
            row[0]: row[1:] for row in conn.execute(latest, [sorted({run_id, *published.values()}), kind]).fetchall()
        }
        written = _by_day(conn, judged_sql, [dates, run_id]) if judged_sql is not None else {}
    current = evaluations.get(run_id)
    verdicts = {}
    for day in dates:
        if judged_sql is not None and not written.get(day):
            verdicts[day] = Verdict(True, {"kind": kind, "note": f"no {kind} written for this partition by this run"})
            continue
        if current is None:
            verdicts[day] = Verdict(False, {"problem": f"no {kind} golden evaluation recorded by this run"})
            continue
        model, prompt_version, precision, recall, f1, report = current
        user_labels = json.loads(report or "{}").get("user_labels")  # figures only: too few to gate on
        baseline = evaluations.get(published.get(day, ""))
        baseline_f1 = baseline[4] if baseline else None  # None: no published version to compare with
        verdicts[day] = Verdict(
            baseline_f1 is None or f1 >= baseline_f1 - pipeline.golden_tolerance,
            {
                "kind": kind,
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "model": model,
                "prompt_version": prompt_version or "none",
                "baseline_f1": baseline_f1,
                "baseline_run_id": published.get(day),
                "golden_tolerance": pipeline.golden_tolerance,
                **({"user_labels": dg.MetadataValue.json(user_labels)} if user_labels else {}),
            },
        )
    return verdicts


@daily_check(
    asset="prefilter_scores",
    blocking=True,
    description=(
        "Job postings: held-out precision/recall of the whole cascade on the labelled golden set "
        "(head trained out-of-fold), per model and prompt version; a day fails when F1 drops more than "
        "golden_tolerance below that of the version published for it. The held-out user labels' figures "
        "(overall and per source) are reported beside it."
    ),
)
def prefilter_golden_set(
    context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource, pipeline: PipelineSettings
) -> Evaluations:
    yield from judged(context, _golden_verdicts(context, duckdb, pipeline, JOB_KIND))


@daily_check(
    asset="email_analysis",
    blocking=True,
    description=(
        "Emails: held-out (nested cross-validation) precision/recall/F1 of the email typing on the "
        "labelled email golden set, every type recorded; a day with email fails when the employment F1 "
        "drops more than golden_tolerance below that of the version published for it."
    ),
)
def email_golden_set(
    context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource, pipeline: PipelineSettings
) -> Evaluations:
    judged_sql = (
        "SELECT partition_date, count(*) FROM email_analysis WHERE partition_date = ANY(?::DATE[]) AND run_id = ? "
        "GROUP BY ALL"
    )
    yield from judged(context, _golden_verdicts(context, duckdb, pipeline, EMAIL_KIND, judged_sql))


@daily_check(
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
) -> Evaluations:
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
    dossiers = {day: 0 for day in check_dates(context)}
    bad: dict[date, dict[str, str]] = {day: {} for day in dossiers}
    kinds: dict[date, Counter[str]] = {day: Counter() for day in dossiers}
    for day, signal_id, raw, raw_evidence in stored:
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
        dossiers[day] += 1
        kinds[day].update(d.kind for d in defects)
        if defects:
            bad[day][signal_id] = "; ".join(str(d) for d in defects)
    yield from judged(
        context,
        {
            day: Verdict(
                not bad[day],
                {
                    "dossiers": count,
                    "with_defects": len(bad[day]),
                    "defect_free_rate": round(1 - len(bad[day]) / count, 4) if count else None,
                    "defects_by_kind": dg.MetadataValue.json(dict(kinds[day])),
                    "examples": dg.MetadataValue.json(dict(list(bad[day].items())[:5])),
                },
            )
            for day, count in dossiers.items()
        },
    )


@daily_check(
    asset="quality_metrics",
    blocking=True,
    description=(
        "The share of LLM outputs that failed validation over the run's days stays below max_error_rate "
        "(from error_rate_min_outputs outputs on)."
    ),
)
def quality_error_rate(
    context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource, pipeline: PipelineSettings
) -> Evaluations:
    with duckdb.get_connection() as conn:
        counts = {
            day: (int(invalid), int(outputs))
            for day, invalid, outputs in conn.execute(
                """SELECT partition_date, invalid_outputs, llm_classified + dossiers + dossier_errors
                   FROM quality_metrics WHERE partition_date = ANY(?::DATE[])""",
                [check_dates(context)],
            ).fetchall()
        }
    dates = check_dates(context)
    invalid, outputs = sum(n for n, _ in counts.values()), sum(n for _, n in counts.values())
    rate = invalid / outputs if outputs else None
    # One rejected dossier among three outputs is not a trend: the rate gates from a sample size on.
    gated = outputs >= pipeline.error_rate_min_outputs
    yield from judged(
        context,
        run_verdicts(
            dates,
            not gated or rate is None or rate <= pipeline.max_error_rate,
            {
                "error_rate": rate,
                "invalid_outputs": invalid,
                "outputs": outputs,
                "max_error_rate": pipeline.max_error_rate,
                "gated": gated,
            },
            {day: dict(zip(("invalid_outputs", "outputs"), counts.get(day, (0, 0)), strict=True)) for day in dates},
        ),
    )


@daily_check(
    asset="prefilter_scores",
    description=(
        "Cache-hit audit (a warning, never blocking): the sample of the run's cache hits re-asked of the live "
        "engine (cache_audit_sample) gave the decisions the cache held; a changed one (two re-asks, one at a time, "
        "agreeing with each other against the cache) means the model or engine changed behind the same name and "
        "digest, or a semantic hit was wrong. Unstable hits (the two re-asks disagree: llama.cpp's answer can move "
        "with batch make-up) are reported, never warned on."
    ),
)
def prefilter_cache_audit(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource) -> Evaluations:
    dates = check_dates(context)
    with duckdb.get_connection() as conn:
        hits, audited, changed, unstable, failed = conn.execute(
            "SELECT coalesce(sum(hits), 0), coalesce(sum(audited), 0), coalesce(sum(changed), 0), "
            "coalesce(sum(unstable), 0), coalesce(sum(failed), 0) FROM cache_audits "
            "WHERE run_id = ? AND stage = 'prefilter_scores'",
            [context.run.run_id],
        ).fetchone() or (0, 0, 0, 0, 0)
    figures = {"hits": hits, "audited": audited, "changed": changed, "unstable": unstable, "failed": failed}
    yield from judged(
        context,
        run_verdicts(dates, changed == 0, figures, {day: {} for day in dates}),
        severity=dg.AssetCheckSeverity.WARN,
    )


@daily_check(
    asset="published_leads",
    description=(
        "Post-publish gate: PSI of the run's published buckets against the 14 published days before them "
        "stays below psi_rollback; on failure the failed-check sensor rolls the run's days back."
    ),
)
def published_leads_drift_gate(
    context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource, pipeline: PipelineSettings
) -> Evaluations:
    dates = check_dates(context)
    with duckdb.get_connection() as conn:
        drift = bucket_drift(conn, dates, version_filter(published_versions(conn, dates)))
    yield from judged(context, _drift_verdicts(dates, drift, "psi_rollback", pipeline.psi_rollback))
