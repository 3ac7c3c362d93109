"""quality_metrics: per-partition counts, rates and LLM figures computed from the stored rows."""

import json

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from leadflow.defs.metadata import day_counts, partition_rows, preview
from leadflow.defs.partitions import partition_dates, pipeline_asset
from leadflow.storage import schema
from leadflow.storage.publication import working_versions
from leadflow.storage.warehouse import replace_partitions

# One row per partition, derived from the stored rows, so the figures add up by construction
# and stay right when an upstream partition is re-materialized.
METRICS_SQL = """
WITH days AS (SELECT UNNEST(?::DATE[]) AS partition_date),
scores AS (SELECT p.* FROM prefilter_scores p JOIN working w USING (partition_date, run_id)),
written AS (SELECT d.* FROM dossiers d JOIN working w USING (partition_date, run_id)),
raw AS (SELECT partition_date, count(*) AS n FROM raw_signals GROUP BY ALL),
quar AS (SELECT partition_date, count(*) AS n FROM quarantined_signals GROUP BY ALL),
emb AS (SELECT partition_date, count(*) AS n FROM signal_embeddings GROUP BY ALL),
pre AS (
  SELECT partition_date, count(*) AS n, count(*) FILTER (llm_used) AS llm_classified,
         count(*) FILTER (llm_error IS NOT NULL) AS llm_errors
  FROM scores GROUP BY ALL),
dos AS (SELECT partition_date, count(*) FILTER (dossier IS NOT NULL) AS n,
               count(*) FILTER (error IS NOT NULL) AS errors FROM written GROUP BY ALL),
calls AS (
  SELECT partition_date, llm_calls, cache_tier, latency_s, tokens_in, tokens_out FROM scores
  UNION ALL
  SELECT partition_date, llm_calls, cache_tier, latency_s, tokens_in, tokens_out FROM written),
llm AS (
  SELECT partition_date, sum(llm_calls) AS llm_calls,
         count(*) FILTER (cache_tier IS NOT NULL) AS cache_hits,
         sum(tokens_in) AS tokens_in, sum(tokens_out) AS tokens_out,
         quantile_cont(latency_s, 0.5) FILTER (cache_tier IS NULL AND latency_s IS NOT NULL) AS latency_p50_s,
         quantile_cont(latency_s, 0.95) FILTER (cache_tier IS NULL AND latency_s IS NOT NULL) AS latency_p95_s
  FROM calls GROUP BY ALL)
SELECT d.partition_date,
       coalesce(raw.n, 0) AS signals, coalesce(quar.n, 0) AS quarantined,
       coalesce(emb.n, 0) AS embedded, coalesce(pre.n, 0) AS scored,
       coalesce(pre.llm_classified, 0) AS llm_classified, coalesce(pre.llm_errors, 0) AS llm_errors,
       coalesce(dos.n, 0) AS dossiers, coalesce(dos.errors, 0) AS dossier_errors,
       coalesce(llm.llm_calls, 0) AS llm_calls, coalesce(llm.cache_hits, 0) AS cache_hits,
       coalesce(llm.tokens_in, 0) AS tokens_in, coalesce(llm.tokens_out, 0) AS tokens_out,
       llm.latency_p50_s, llm.latency_p95_s
FROM days d LEFT JOIN raw USING (partition_date) LEFT JOIN quar USING (partition_date)
LEFT JOIN emb USING (partition_date) LEFT JOIN pre USING (partition_date)
LEFT JOIN dos USING (partition_date) LEFT JOIN llm USING (partition_date)
ORDER BY d.partition_date
"""

BUCKETS_SQL = """
SELECT partition_date, bucket, count(*) AS n FROM prefilter_scores JOIN working USING (partition_date, run_id)
GROUP BY ALL
"""


def _rate(numerator: int, denominator: int) -> float:
    return round(numerator / denominator, 4) if denominator else 0.0


@pipeline_asset(
    deps=("raw_signals", "signal_embeddings", "prefilter_scores", "dossiers"),
    group_name="quality",
    kinds={"duckdb"},
    description=(
        "Per-partition quality figures: counts per stage, bucket distribution, quarantine rate, "
        "invalid-output rate, LLM calls, cache hits, tokens, latency p50/p95 and the share of "
        "signals that needed the big model (cascade savings)."
    ),
)
def quality_metrics(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    dates = partition_dates(context)
    with duckdb.get_connection() as conn:
        versions = working_versions(conn, dates, context.run.run_id)
        conn.register(
            "working",
            pd.DataFrame(
                {"partition_date": list(versions), "run_id": list(versions.values())},
                columns=["partition_date", "run_id"],
            ).astype({"run_id": "string"}),
        )
        base = conn.execute(METRICS_SQL, [dates]).df()
        buckets = conn.execute(BUCKETS_SQL).df()
    rows = []
    for row in base.itertuples():
        day_buckets = buckets[buckets["partition_date"] == row.partition_date]
        records_seen = row.signals + row.quarantined
        rows.append(
            {
                "partition_date": row.partition_date,
                "signals": row.signals,
                "quarantined": row.quarantined,
                "quarantine_rate": _rate(row.quarantined, records_seen),
                "embedded": row.embedded,
                "scored": row.scored,
                "llm_classified": row.llm_classified,
                "invalid_outputs": row.llm_errors + row.dossier_errors,
                "invalid_rate": _rate(
                    row.llm_errors + row.dossier_errors, row.llm_classified + row.dossiers + row.dossier_errors
                ),
                "dossiers": row.dossiers,
                "dossier_errors": row.dossier_errors,
                "big_model_share": _rate(row.dossiers + row.dossier_errors, row.signals),
                "buckets": json.dumps(dict(zip(day_buckets["bucket"], day_buckets["n"].astype(int), strict=True))),
                "llm": json.dumps(
                    {
                        "llm_calls": int(row.llm_calls),
                        "cache_hits": int(row.cache_hits),
                        "tokens_in": int(row.tokens_in),
                        "tokens_out": int(row.tokens_out),
                        "latency_p50_s": None if pd.isna(row.latency_p50_s) else round(float(row.latency_p50_s), 3),
                        "latency_p95_s": None if pd.isna(row.latency_p95_s) else round(float(row.latency_p95_s), 3),
                    }
                ),
                "run_id": context.run.run_id,
            }
        )
    frame = schema.frame("quality_metrics", rows)
    with duckdb.get_connection() as conn:
        replace_partitions(conn, "quality_metrics", dates, frame)
    totals = frame[["signals", "quarantined", "scored", "llm_classified", "dossiers", "invalid_outputs"]].sum()
    seen = totals["signals"] + totals["quarantined"]
    return dg.MaterializeResult(
        metadata={
            **partition_rows(context, day_counts(frame)),
            **{str(key): int(value) for key, value in totals.items()},
            # null, not 0, when there was nothing to divide (no record read)
            "quarantine_rate": _rate(int(totals["quarantined"]), int(seen)) if seen else None,
            "big_model_share": _rate(int(totals["dossiers"]), int(totals["signals"])) if totals["signals"] else None,
            "preview": preview(
                frame[frame["signals"] > 0], ["partition_date", "signals", "quarantined", "dossiers", "buckets"]
            ),
        }
    )
