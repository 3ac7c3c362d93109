"""Jobs: the daily pipeline (schedules, sensors, CLI and backfills run it), rollback and cache care."""

from datetime import date

import dagster as dg
from dagster_duckdb import DuckDBResource

from leadflow.defs.partitions import daily_partitions
from leadflow.defs.resources import LLMResource
from leadflow.storage.publication import rollback

PIPELINE_ASSETS = [
    "raw_signals",
    "signal_embeddings",
    "email_analysis",
    "prefilter_scores",
    "dossiers",
    "quality_metrics",
    "published_leads",
    "export",
    "lead_report",
]

daily_pipeline_job = dg.define_asset_job(
    name="daily_pipeline",
    selection=dg.AssetSelection.assets(*PIPELINE_ASSETS),
    partitions_def=daily_partitions,
    description=(
        "raw_signals -> signal_embeddings -> email_analysis -> prefilter_scores -> dossiers -> quality_metrics, then "
        "published_leads once the blocking checks passed, then export (the day's leads as a CSV file) and "
        "lead_report (the same leads as a static HTML page)."
    ),
)


class RollbackConfig(dg.Config):
    partition_date: str  # YYYY-MM-DD
    note: str = "manual rollback"


@dg.op(description="Points the partition's published views back at the version published before.")
def rollback_published_version(context: dg.OpExecutionContext, config: RollbackConfig, duckdb: DuckDBResource) -> None:
    with duckdb.get_connection() as conn:
        from_run, to_run = rollback(conn, date.fromisoformat(config.partition_date), note=config.note)
    context.log.info(f"{config.partition_date}: published version {from_run} -> {to_run}")


@dg.job(description="Restore the previously published version of one partition (leads, dossiers).")
def rollback_partition():
    rollback_published_version()


class CacheMaintenanceConfig(dg.Config):
    action: str = "expire"  # expire | clear
    kind: str | None = None  # classification | dossier | embedding; None = all kinds


@dg.op(description="Expires (or clears) LLM response cache entries in every tier and logs the counts.")
def maintain_llm_cache(context: dg.OpExecutionContext, config: CacheMaintenanceConfig, llm: LLMResource) -> None:
    cache = llm.client().cache
    if cache is None:
        context.log.info("response cache is disabled")
        return
    counts = cache.clear(config.kind) if config.action == "clear" else cache.expire()
    context.log.info(f"{config.action}: {counts}; stats now {cache.stats()}")


@dg.job(description="LLM response cache care: expire old entries (default) or clear a kind.")
def llm_cache_maintenance():
    maintain_llm_cache()
