"""Jobs: the daily pipeline (schedules, sensors, CLI and backfills run it), rollback and cache care."""

from datetime import date

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field

from leadflow.defs.partitions import daily_partitions
from leadflow.defs.resources import LLMResource
from leadflow.storage.publication import rollback

PUBLISHED_LEADS = "published_leads"
PIPELINE_ASSETS = [
    "raw_signals",
    "accounts",
    "signal_embeddings",
    "email_analysis",
    "prefilter_scores",
    "dossiers",
    "quality_metrics",
    PUBLISHED_LEADS,
    "export",
    "lead_report",
]

daily_pipeline_job = dg.define_asset_job(
    name="daily_pipeline",
    selection=dg.AssetSelection.assets(*PIPELINE_ASSETS),
    partitions_def=daily_partitions,
    description=(
        "raw_signals -> accounts, signal_embeddings -> email_analysis -> prefilter_scores -> dossiers -> quality_metrics, then "
        "published_leads once the blocking checks passed, then export (the day's leads as a CSV file) and "
        "lead_report (the same leads as a static HTML page)."
    ),
)


class RollbackConfig(dg.Config):
    """The partition is picked in the launchpad (the job is partitioned by day)."""

    note: str = Field(default="manual rollback", description="Why: kept with the publication history.")


def restored_version_text(day: str, from_run: str | None, to_run: str | None) -> str:
    """What a rollback did, in words: the version it replaced and the one it restored."""
    restored = f"restores version {to_run}" if to_run else "no earlier version: the day is now unpublished"
    return f"{day}: published version {from_run} rolled back, {restored}"


@dg.op(
    description=(
        "Points the partition's published views (leads, dossiers) back at the version published before the "
        "current one (a version is the run that wrote it), and records on published_leads which one it restored."
    )
)
def rollback_published_version(context: dg.OpExecutionContext, config: RollbackConfig, duckdb: DuckDBResource) -> None:
    day = context.partition_key
    with duckdb.get_connection() as conn:
        from_run, to_run = rollback(conn, date.fromisoformat(day), note=config.note)
    context.log.info(restored_version_text(day, from_run, to_run))
    context.log_event(
        dg.AssetObservation(
            asset_key=PUBLISHED_LEADS,
            partition=day,
            metadata={
                "rollback/from_version": from_run,
                "rollback/restored_version": to_run,
                "rollback/note": config.note,
            },
        )
    )


@dg.job(
    partitions_def=daily_partitions,
    description=(
        "Restore the previously published version of one day (pick it in the launchpad's partition picker): its "
        "leads and dossiers are served from the version published before the current one; repeat to step further "
        "back. The run's log and published_leads' observation for that day name both versions."
    ),
)
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
